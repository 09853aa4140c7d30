# Gatehouse quickstart: one profile, one OpenAI provider key, one virtual key for an app.
#
#   export GATEHOUSE_BASE_URL=http://localhost:9000      # the control plane
#   export GATEHOUSE_API_KEY=<admin API key>
#   export TF_VAR_openai_api_key=sk-...                   # stays in Gatehouse, never in the app
#   terraform init && terraform apply
#   terraform output -raw virtual_key                     # hand this to the application

terraform {
  required_version = ">= 1.0"
  required_providers {
    gatehouse = {
      source  = "gatehouse/gatehouse"
      version = ">= 0.1.0"
    }
  }
}

provider "gatehouse" {}

variable "openai_api_key" {
  description = "The real OpenAI API key. Stored encrypted in Gatehouse; applications never see it."
  type        = string
  sensitive   = true
}

variable "data_plane_url" {
  description = "Where applications reach the Gatehouse data plane."
  type        = string
  default     = "http://localhost:8080"
}

resource "gatehouse_profile" "quickstart" {
  name        = "quickstart"
  description = "Created by terraform-examples/quickstart"
}

resource "gatehouse_provider_key" "openai" {
  name          = "quickstart-openai"
  provider_type = "openai"
  secret        = var.openai_api_key
}

resource "gatehouse_virtual_key" "app" {
  name       = "quickstart-app"
  profile_id = gatehouse_profile.quickstart.id
  provider_keys = {
    openai = gatehouse_provider_key.openai.id
  }
}

output "openai_base_url" {
  description = "base_url for the OpenAI SDK."
  value       = "${var.data_plane_url}/v1/openai/${gatehouse_profile.quickstart.id}"
}

output "virtual_key" {
  description = "The application's API key (gh_vk_…)."
  value       = gatehouse_virtual_key.app.token
  sensitive   = true
}
