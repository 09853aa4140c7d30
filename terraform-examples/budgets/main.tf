# Limits at every scope: the organization's monthly spend, a team's daily tokens, a
# profile's request rate (sliding) and its daily spend on one model, and one application
# key's monthly spend.
#
#   export GATEHOUSE_BASE_URL=http://localhost:9000 GATEHOUSE_API_KEY=<admin API key>
#   terraform init && terraform apply

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

variable "name_prefix" {
  description = "Prefix of every object's name."
  type        = string
  default     = "budgets"
}

variable "monthly_budget_usd" {
  description = "The whole organization's monthly spend ceiling."
  type        = number
  default     = 5000
}

resource "gatehouse_team" "research" {
  name = "${var.name_prefix}-research"
}

resource "gatehouse_profile" "notebook" {
  name    = "${var.name_prefix}-notebook"
  team_id = gatehouse_team.research.id
  # Interaction records keep the request and response bodies (64 KiB each at most).
  log_bodies = "full"
}

resource "gatehouse_virtual_key" "intern" {
  name       = "${var.name_prefix}-intern"
  profile_id = gatehouse_profile.notebook.id
  team_id    = gatehouse_team.research.id
}

resource "gatehouse_limit" "organization_spend" {
  scope  = "organization"
  metric = "cost_usd"
  window = "month"
  max    = var.monthly_budget_usd
}

resource "gatehouse_limit" "team_tokens" {
  team_id    = gatehouse_team.research.id
  scope      = "team"
  subject_id = gatehouse_team.research.id
  metric     = "tokens"
  window     = "day"
  max        = 2000000
}

resource "gatehouse_limit" "profile_rate" {
  team_id    = gatehouse_team.research.id
  scope      = "profile"
  subject_id = gatehouse_profile.notebook.id
  metric     = "requests"
  window     = "minute"
  rolling    = true
  max        = 60
}

# The expensive model gets a daily budget of its own.
resource "gatehouse_limit" "profile_opus_spend" {
  team_id    = gatehouse_team.research.id
  scope      = "profile"
  subject_id = gatehouse_profile.notebook.id
  metric     = "cost_usd"
  window     = "day"
  model      = "claude-opus-4-1"
  max        = 50
}

resource "gatehouse_limit" "intern_spend" {
  team_id    = gatehouse_team.research.id
  scope      = "virtual_key"
  subject_id = gatehouse_virtual_key.intern.id
  metric     = "cost_usd"
  window     = "month"
  max        = 25
}

# Prices costs are computed from: see what a budget buys.
data "gatehouse_models" "openai" {
  provider_type = "openai"
}

output "openai_prices" {
  value = { for m in data.gatehouse_models.openai.models : m.model => m.input_price_per_million }
}
