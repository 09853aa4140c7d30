# Two teams, each with its own scoped API key, provider key, profile and virtual key.
# Team API keys see and change only their own team's objects.
#
#   export GATEHOUSE_BASE_URL=http://localhost:9000 GATEHOUSE_API_KEY=<admin API key>
#   export PAYMENTS_OPENAI_API_KEY=sk-...   # read by the provider (secret_env), never in state
#   terraform init && terraform apply -var 'search_anthropic_api_key=sk-ant-...'

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

variable "search_anthropic_api_key" {
  description = "Anthropic key of the search team (kept in state, sensitive)."
  type        = string
  sensitive   = true
}

variable "name_prefix" {
  description = "Prefix of every object's name, so several copies can share a control plane."
  type        = string
  default     = "mt"
}

locals {
  teams = {
    payments = { description = "Payments platform", env = "prod" }
    search   = { description = "Search relevance", env = "staging" }
  }
}

resource "gatehouse_team" "team" {
  for_each    = local.teams
  name        = "${var.name_prefix}-${each.key}"
  description = each.value.description
}

# A key each team's own Terraform (or CI) uses: it can manage only that team's objects.
resource "gatehouse_api_key" "team_admin" {
  for_each = local.teams
  name     = "${var.name_prefix}-${each.key}-terraform"
  role     = "editor"
  team_id  = gatehouse_team.team[each.key].id
}

resource "gatehouse_provider_key" "payments_openai" {
  name          = "${var.name_prefix}-payments-openai"
  provider_type = "openai"
  team_id       = gatehouse_team.team["payments"].id
  secret_env    = "PAYMENTS_OPENAI_API_KEY"
  is_default    = true
}

resource "gatehouse_provider_key" "search_anthropic" {
  name          = "${var.name_prefix}-search-anthropic"
  provider_type = "anthropic"
  team_id       = gatehouse_team.team["search"].id
  secret        = var.search_anthropic_api_key
}

resource "gatehouse_profile" "app" {
  for_each    = local.teams
  name        = "${var.name_prefix}-${each.key}-app"
  team_id     = gatehouse_team.team[each.key].id
  labels      = { team = each.key, env = each.value.env }
  description = "The ${each.key} team's application"
}

resource "gatehouse_virtual_key" "payments_app" {
  name          = "${var.name_prefix}-payments-app"
  profile_id    = gatehouse_profile.app["payments"].id
  team_id       = gatehouse_team.team["payments"].id
  provider_keys = { openai = gatehouse_provider_key.payments_openai.id }
}

resource "gatehouse_virtual_key" "search_app" {
  name           = "${var.name_prefix}-search-app"
  profile_id     = gatehouse_profile.app["search"].id
  team_id        = gatehouse_team.team["search"].id
  provider_keys  = { anthropic = gatehouse_provider_key.search_anthropic.id }
  allowed_models = ["claude-haiku-*", "claude-sonnet-*"]
}

output "team_api_keys" {
  description = "Each team's scoped API key (gh_ak_…)."
  value       = { for k, v in gatehouse_api_key.team_admin : k => v.token }
  sensitive   = true
}

output "profile_ids" {
  value = { for k, v in gatehouse_profile.app : k => v.id }
}
