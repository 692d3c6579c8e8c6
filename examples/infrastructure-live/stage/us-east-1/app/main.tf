# The stage account's application.
terraform {
  required_version = ">= 1.6"
}

resource "terraform_data" "service" {
  input = { name = "stage-service", replicas = 1 }
}
