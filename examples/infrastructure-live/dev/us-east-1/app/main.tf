# The dev account's application.
terraform {
  required_version = ">= 1.6"
}

resource "terraform_data" "service" {
  input = { name = "dev-service", replicas = 1 }
}
