//! Policy enforcement on the request path: a profile's policies compiled once when its
//! config is fetched; the conversation's tool results screened (trust, withheld results)
//! when the body is read; and the judge that decides each tool call in the response.

use std::sync::Arc;

use api_types::internal::ProfileConfig;
use llm::route::Endpoint;
use llm::tools::{ToolJudge, ToolResult};
use policy::{Call, CallVerdict, Context, PolicySet, ResultVerdict};
use serde::Deserialize;

use crate::metrics::metrics;

/// A profile as the data plane serves it: its config and its policies, compiled. A policy
/// that does not compile makes the whole profile unservable (fail closed), which the
/// control plane's validation prevents.
#[derive(Debug, Deserialize)]
#[serde(try_from = "ProfileConfig")]
pub struct ServedProfile {
    pub config: ProfileConfig,
    pub policies: Arc<PolicySet>,
}

impl TryFrom<ProfileConfig> for ServedProfile {
    type Error = policy::PolicyError;

    fn try_from(config: ProfileConfig) -> Result<Self, Self::Error> {
        let context = Context {
            team_id: config.team_id,
            profile_labels: config.labels.clone(),
        };
        let policies = PolicySet::compile(
            config.global_tool_policy,
            &config.tool_invocation_policies,
            &config.trusted_data_policies,
            &context,
        )?;
        Ok(ServedProfile {
            config,
            policies: Arc::new(policies),
        })
    }
}

impl std::ops::Deref for ServedProfile {
    type Target = ProfileConfig;

    fn deref(&self) -> &ProfileConfig {
        &self.config
    }
}

/// What the conversation in a request told the policies.
#[derive(Debug, Default)]
pub struct Screened {
    /// The conversation is untrusted (a result, the profile, or the client said so).
    pub untrusted: bool,
    pub declared: Vec<String>,
    pub results_withheld: usize,
}

/// Judges every tool result in the request (in place: withheld results are replaced).
/// `untrusted` is where the conversation starts: the profile's flag or the client's header.
pub fn screen_request(
    policies: &PolicySet,
    endpoint: Endpoint,
    body: &mut serde_json::Value,
    untrusted: bool,
) -> (Screened, bool) {
    let mut screened = Screened {
        untrusted,
        declared: llm::tools::declared_tools(endpoint, body),
        results_withheld: 0,
    };
    let changed = llm::tools::screen_results(endpoint, body, &mut |result: ToolResult<'_>| {
        let verdict = policies.judge_result(result.tool, &result.document);
        let label = match &verdict {
            ResultVerdict::Trusted => "trusted",
            ResultVerdict::Untrusted => "untrusted",
            ResultVerdict::Block { .. } => "blocked",
        };
        if let Some(m) = metrics() {
            m.tool_results.with_label_values(&[label]).inc();
        }
        match verdict {
            ResultVerdict::Trusted => None,
            ResultVerdict::Untrusted => {
                screened.untrusted = true;
                None
            }
            ResultVerdict::Block { notice, .. } => {
                screened.results_withheld += 1;
                Some(notice)
            }
        }
    });
    (screened, changed)
}

/// What the response's tool calls came to, shared with the request's record.
#[derive(Debug, Default)]
pub struct CallTally {
    pub allowed: u32,
    pub blocked: u32,
}

/// The data plane's [`ToolJudge`]: the profile's policies, the tools the request declared,
/// and whether the conversation is untrusted.
pub struct Judge {
    pub policies: Arc<PolicySet>,
    pub declared: Vec<String>,
    pub untrusted: bool,
    pub tally: Arc<std::sync::Mutex<CallTally>>,
}

impl Judge {
    fn declared(&self, name: &str) -> bool {
        self.declared.iter().any(|d| d == name)
    }
}

impl ToolJudge for Judge {
    fn may_block(&self, name: &str) -> bool {
        self.policies
            .may_block(name, self.declared(name), self.untrusted)
    }

    fn judge(&mut self, name: &str, arguments: &str) -> Option<String> {
        let declared = self.declared(name);
        let call = Call {
            name,
            arguments,
            declared,
        };
        let verdict = self.policies.judge_call(call, self.untrusted);
        let mut tally = self.tally.lock().unwrap_or_else(|p| p.into_inner());
        match verdict {
            CallVerdict::Allow => {
                tally.allowed += 1;
                if let Some(m) = metrics() {
                    m.tool_calls.with_label_values(&["allowed"]).inc();
                }
                None
            }
            CallVerdict::Block(blocked) => {
                tally.blocked += 1;
                // Undeclared names come from the model: keep them out of label values.
                let tool = if declared { name } else { "-" };
                tracing::info!(
                    tool,
                    reason = blocked.kind.as_str(),
                    policy = ?blocked.policy,
                    "tool call blocked"
                );
                if let Some(m) = metrics() {
                    m.tool_calls.with_label_values(&["blocked"]).inc();
                    m.tool_calls_blocked
                        .with_label_values(&[&m.tool_label(tool), blocked.kind.as_str()])
                        .inc();
                }
                Some(blocked.message)
            }
        }
    }
}
