# The dev account's network. Runs on the account's own ECS task role: no provider assume_role.
terraform {
  required_version = ">= 1.6"
}

variable "cidr" {
  type    = string
  default = "10.10.0.0/16"
}

resource "terraform_data" "vpc" {
  input = { name = "dev-vpc", cidr = var.cidr }
}

output "vpc" {
  value = terraform_data.vpc.output
}
