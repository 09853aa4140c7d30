# A policy set for an agent that reads email, fetches web pages and works with files.
# Web pages and mail from outside are untrusted; once untrusted data is in the
# conversation, the agent may not send mail outside the company, fetch arbitrary URLs or
# touch files outside its workspace. Reads of secrets are blocked outright.
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
  default     = "agent"
}

variable "company_domain" {
  description = "Mail to and from this domain is internal."
  type        = string
  default     = "acme.com"
}

# Tool calls are blocked unless a policy allows them.
resource "gatehouse_organization_settings" "org" {
  name               = "Acme"
  global_tool_policy = "restrictive"
}

resource "gatehouse_profile" "agent" {
  name                = "${var.name_prefix}-email-agent"
  description         = "Inbox assistant with web and file tools"
  labels              = { agent = "inbox", data = "confidential" }
  require_virtual_key = true
}

# ---- what may be trusted ----------------------------------------------------------------

resource "gatehouse_trusted_data_policy" "internal_mail" {
  profile_id  = gatehouse_profile.agent.id
  tool_name   = "read_inbox"
  description = "Mail whose every sender is internal is trusted"
  action      = "mark_as_trusted"
  conditions {
    path     = "$.messages[*].from"
    operator = "ends_with"
    value    = "@${var.company_domain}"
  }
}

resource "gatehouse_trusted_data_policy" "web_pages" {
  profile_id  = gatehouse_profile.agent.id
  tool_name   = "web_fetch"
  description = "Web pages are untrusted"
  action      = "mark_as_untrusted"
}

resource "gatehouse_trusted_data_policy" "workspace_files" {
  profile_id  = gatehouse_profile.agent.id
  tool_name   = "read_file"
  description = "Files in the agent's workspace are trusted"
  action      = "mark_as_trusted"
  conditions {
    path     = "$.path"
    operator = "starts_with"
    value    = "/workspace/"
  }
}

resource "gatehouse_trusted_data_policy" "secrets" {
  profile_id  = gatehouse_profile.agent.id
  tool_name   = "read_file"
  description = "Key material never reaches the model"
  action      = "block"
  conditions {
    path     = "$.content"
    operator = "regex"
    value    = "-----BEGIN [A-Z ]*PRIVATE KEY-----"
  }
}

# ---- what may be called -----------------------------------------------------------------

resource "gatehouse_tool_invocation_policy" "internal_mail" {
  profile_id = gatehouse_profile.agent.id
  tool_name  = "send_email"
  action     = "allow_always"
  reason     = "Internal mail is always fine"
  conditions {
    path     = "$.to"
    operator = "ends_with"
    value    = "@${var.company_domain}"
  }
}

resource "gatehouse_tool_invocation_policy" "external_mail" {
  profile_id = gatehouse_profile.agent.id
  tool_name  = "send_email"
  action     = "block_when_context_is_untrusted"
  reason     = "No mail leaves the company once untrusted content is in the conversation"
}

resource "gatehouse_tool_invocation_policy" "known_sites" {
  profile_id = gatehouse_profile.agent.id
  tool_name  = "web_fetch"
  action     = "allow_always"
  reason     = "Documentation sites"
  conditions {
    path     = "$.url"
    operator = "regex"
    value    = "^https://(docs\\.${replace(var.company_domain, ".", "\\.")}|developer\\.mozilla\\.org)/"
  }
}

resource "gatehouse_tool_invocation_policy" "other_sites" {
  profile_id = gatehouse_profile.agent.id
  tool_name  = "web_fetch"
  action     = "allow_when_context_is_untrusted"
  reason     = "Browsing is fine until untrusted content could steer it (exfiltration by URL)"
}

resource "gatehouse_tool_invocation_policy" "workspace_writes" {
  profile_id = gatehouse_profile.agent.id
  tool_name  = "write_file"
  action     = "block_when_context_is_untrusted"
  reason     = "Writes stay in the workspace"
  conditions {
    path     = "$.path"
    operator = "starts_with"
    value    = "/workspace/"
  }
}

resource "gatehouse_tool_invocation_policy" "no_deletes" {
  profile_id = gatehouse_profile.agent.id
  tool_name  = "delete_*"
  action     = "block_always"
  reason     = "The agent never deletes"
}

resource "gatehouse_tool_invocation_policy" "reads" {
  profile_id = gatehouse_profile.agent.id
  tool_name  = "read_*"
  action     = "allow_always"
  reason     = "Reading is always allowed; what is read is judged by the trusted-data policies"
}

output "profile_id" {
  value = gatehouse_profile.agent.id
}
