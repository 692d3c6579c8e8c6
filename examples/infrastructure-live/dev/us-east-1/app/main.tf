# The dev account's application. It reads the network's output from the network's state, so it
# depends on network (dependsOn in examples/tfstep.yaml): it runs after network, and a change to
# network runs it too.
terraform {
  required_version = ">= 1.6"
}

locals {
  # The network's state is next to this module's own. tfstep's local mode gives every module a
  # local backend whose path ends in <module>/terraform.tfstate; `terraform init` records it in
  # .terraform/terraform.tfstate. Run by hand without a backend, the state is in the module.
  backend_file  = "${path.root}/.terraform/terraform.tfstate"
  own_state     = fileexists(local.backend_file) ? jsondecode(file(local.backend_file)).backend.config.path : "${abspath(path.root)}/terraform.tfstate"
  network_state = "${dirname(dirname(local.own_state))}/network/terraform.tfstate"
}

# Read only once the network has been applied: a plan made for approval before the network's
# first apply has no state to read (tfstep plans again after network applies).
data "terraform_remote_state" "network" {
  count   = fileexists(local.network_state) ? 1 : 0
  backend = "local"
  config  = { path = local.network_state }
}

locals {
  vpc = try(data.terraform_remote_state.network[0].outputs.vpc, { name = "(network not applied yet)", cidr = "" })
}

resource "terraform_data" "service" {
  input = { name = "dev-service", replicas = 1, vpc = local.vpc.name, cidr = local.vpc.cidr }
}
