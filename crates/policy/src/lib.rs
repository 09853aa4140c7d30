//! Tool-invocation and trusted-data policies: compiled once per profile, then asked about
//! each tool result in a conversation (is it trusted? may the model see it?) and each tool
//! call in a response (may it reach the client?). Pure: no IO, no clock.
//!
//! The decision orders are written down in `docs/policies.md`; [`PolicySet::judge_call`] and
//! [`PolicySet::judge_result`] follow them step by step.

mod condition;

use api_types::{
    GlobalToolPolicy, ToolAction, ToolInvocationPolicy, TrustedDataAction, TrustedDataPolicy,
};
use globset::{Glob, GlobMatcher};
use serde_json::Value;
use uuid::Uuid;

use condition::Compiled;
pub use condition::Context;

/// Why a policy could not be compiled (the control plane refuses such policies, so this
/// means a snapshot from a newer or broken control plane).
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("tool name `{name}` is not a valid glob: {why}")]
    ToolName { name: String, why: String },
    #[error("condition on `{path}`: {why}")]
    Condition { path: String, why: String },
}

/// Checks one policy's tool name and conditions the way the data plane will compile them.
pub fn validate(tool_name: &str, conditions: &[api_types::Condition]) -> Result<(), PolicyError> {
    Rule::new(tool_name, conditions, &Context::default()).map(drop)
}

/// What every policy shares: which tools it names and the conditions that must all hold.
#[derive(Debug)]
struct Rule {
    name: GlobMatcher,
    /// Conditions on the call's arguments or the tool's result (context conditions are
    /// settled at compile time).
    conditions: Vec<Compiled>,
}

impl Rule {
    /// The rule, or `None` when a context condition does not hold for this profile (the
    /// policy never applies here).
    fn new(
        tool_name: &str,
        conditions: &[api_types::Condition],
        context: &Context,
    ) -> Result<Option<Self>, PolicyError> {
        let name = Glob::new(tool_name)
            .map_err(|e| PolicyError::ToolName {
                name: tool_name.to_owned(),
                why: e.to_string(),
            })?
            .compile_matcher();
        let mut kept = Vec::with_capacity(conditions.len());
        for condition in conditions {
            let compiled = Compiled::new(condition)?;
            match compiled.holds_in(context) {
                Some(false) => return Ok(None),
                Some(true) => {}
                None => kept.push(compiled),
            }
        }
        Ok(Some(Rule {
            name,
            conditions: kept,
        }))
    }

    fn names(&self, tool: &str) -> bool {
        self.name.is_match(tool)
    }

    fn holds_on(&self, document: &Value) -> bool {
        self.conditions.iter().all(|c| c.holds_on(document))
    }
}

#[derive(Debug)]
struct ToolRule {
    id: Uuid,
    rule: Rule,
    action: ToolAction,
    reason: Option<String>,
}

#[derive(Debug)]
struct DataRule {
    id: Uuid,
    rule: Rule,
    action: TrustedDataAction,
    description: Option<String>,
}

/// The policies that apply to one profile, compiled.
#[derive(Debug)]
pub struct PolicySet {
    global: GlobalToolPolicy,
    tools: Vec<ToolRule>,
    data: Vec<DataRule>,
}

/// How a tool result counts for the conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResultVerdict {
    Trusted,
    /// The conversation is untrusted from here on.
    Untrusted,
    /// The model must not see it: its content is replaced by `notice`.
    Block {
        policy: Uuid,
        notice: String,
    },
}

/// Why a tool call was blocked, for records and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    /// The request did not declare the tool.
    Undeclared,
    /// A policy must read the arguments and they are not JSON.
    InvalidArguments,
    /// A `block_always` policy matched.
    BlockAlways,
    /// A `block_when_context_is_untrusted` policy matched in an untrusted conversation.
    BlockWhenUntrusted,
    /// `restrictive` and no policy allowed the call.
    NotAllowed,
}

impl BlockKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BlockKind::Undeclared => "undeclared_tool",
            BlockKind::InvalidArguments => "invalid_arguments",
            BlockKind::BlockAlways => "block_always",
            BlockKind::BlockWhenUntrusted => "block_when_context_is_untrusted",
            BlockKind::NotAllowed => "not_allowed",
        }
    }
}

/// A blocked call: what the model and the user are told, and which policy decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    pub kind: BlockKind,
    pub policy: Option<Uuid>,
    /// The whole refusal text that replaces the call.
    pub message: String,
}

/// What happens to one tool call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallVerdict {
    Allow,
    Block(Blocked),
}

/// One tool call as the response made it.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    pub name: &'a str,
    /// The arguments' JSON text, as the model wrote it (may be invalid or empty).
    pub arguments: &'a str,
    /// Whether the request declared a tool of this name.
    pub declared: bool,
}

impl PolicySet {
    /// Compiles the policies that apply to a profile; policies whose context conditions do
    /// not hold for it are dropped here.
    pub fn compile(
        global: GlobalToolPolicy,
        tools: &[ToolInvocationPolicy],
        data: &[TrustedDataPolicy],
        context: &Context,
    ) -> Result<Self, PolicyError> {
        let mut set = PolicySet {
            global,
            tools: Vec::with_capacity(tools.len()),
            data: Vec::with_capacity(data.len()),
        };
        for p in tools {
            if let Some(rule) = Rule::new(&p.tool_name, &p.conditions, context)? {
                set.tools.push(ToolRule {
                    id: p.id,
                    rule,
                    action: p.action,
                    reason: p.reason.clone(),
                });
            }
        }
        for p in data {
            if let Some(rule) = Rule::new(&p.tool_name, &p.conditions, context)? {
                set.data.push(DataRule {
                    id: p.id,
                    rule,
                    action: p.action,
                    description: p.description.clone(),
                });
            }
        }
        Ok(set)
    }

    /// No policies, and the permissive default: only undeclared tools can be blocked.
    pub fn permissive_and_empty(&self) -> bool {
        self.global == GlobalToolPolicy::Permissive && self.tools.is_empty()
    }

    /// Whether some trusted-data policy may block a result (the request body may change).
    pub fn may_block_results(&self) -> bool {
        self.data
            .iter()
            .any(|d| d.action == TrustedDataAction::Block)
    }

    /// How a tool result counts (tool `None`: its call could not be found in the
    /// conversation). Order: a matching `block` policy blocks; else a matching
    /// `mark_as_untrusted` makes it untrusted; else a matching `mark_as_trusted` makes it
    /// trusted; else it is untrusted.
    pub fn judge_result(&self, tool: Option<&str>, result: &Value) -> ResultVerdict {
        let Some(tool) = tool else {
            return ResultVerdict::Untrusted;
        };
        let mut untrusted = false;
        let mut trusted = false;
        for d in &self.data {
            if !d.rule.names(tool) || !d.rule.holds_on(result) {
                continue;
            }
            match d.action {
                TrustedDataAction::Block => {
                    let why = d
                        .description
                        .as_deref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default();
                    return ResultVerdict::Block {
                        policy: d.id,
                        notice: format!(
                            "[Gatehouse] The result of tool `{tool}` was withheld by policy{why}."
                        ),
                    };
                }
                TrustedDataAction::MarkAsUntrusted => untrusted = true,
                TrustedDataAction::MarkAsTrusted => trusted = true,
            }
        }
        if trusted && !untrusted {
            ResultVerdict::Trusted
        } else {
            ResultVerdict::Untrusted
        }
    }

    /// Whether a call to `tool` could be blocked at all, decided from its name alone: a
    /// stream holds a call's deltas back only when this is true.
    pub fn may_block(&self, tool: &str, declared: bool, untrusted: bool) -> bool {
        if !declared {
            return true;
        }
        let mut allowed_outright = false;
        for t in self.tools.iter().filter(|t| t.rule.names(tool)) {
            if !t.rule.conditions.is_empty() {
                // Its arguments must be read (and may be invalid).
                return true;
            }
            match t.action {
                ToolAction::BlockAlways => return true,
                ToolAction::BlockWhenContextIsUntrusted if untrusted => return true,
                ToolAction::AllowAlways => allowed_outright = true,
                ToolAction::AllowWhenContextIsUntrusted => allowed_outright = true,
                ToolAction::BlockWhenContextIsUntrusted => {}
            }
        }
        self.global == GlobalToolPolicy::Restrictive && !allowed_outright
    }

    /// What happens to one call in a conversation that is `untrusted` or not. Order:
    /// 1. a tool the request did not declare is blocked;
    /// 2. arguments that are not JSON are blocked when a policy naming the tool has
    ///    conditions to read in them;
    /// 3. a matching `block_always` blocks;
    /// 4. a matching `allow_always` allows;
    /// 5. in an untrusted conversation, a matching `block_when_context_is_untrusted` blocks;
    /// 6. a matching `allow_when_context_is_untrusted` allows;
    /// 7. otherwise `permissive` allows and `restrictive` blocks.
    pub fn judge_call(&self, call: Call<'_>, untrusted: bool) -> CallVerdict {
        let tool = call.name;
        if !call.declared {
            return block(
                BlockKind::Undeclared,
                None,
                tool,
                "the request did not declare this tool",
            );
        }
        let named: Vec<&ToolRule> = self.tools.iter().filter(|t| t.rule.names(tool)).collect();
        let arguments = if named.iter().any(|t| !t.rule.conditions.is_empty()) {
            let text = if call.arguments.trim().is_empty() {
                "{}"
            } else {
                call.arguments
            };
            match serde_json::from_str::<Value>(text) {
                Ok(v) => v,
                Err(_) => {
                    return block(
                        BlockKind::InvalidArguments,
                        None,
                        tool,
                        "its arguments are not valid JSON",
                    )
                }
            }
        } else {
            Value::Null
        };
        let first = |action: ToolAction| {
            named
                .iter()
                .find(|t| t.action == action && t.rule.holds_on(&arguments))
        };
        let reason = |t: &ToolRule| {
            t.reason
                .clone()
                .unwrap_or_else(|| "blocked by policy".into())
        };
        if let Some(t) = first(ToolAction::BlockAlways) {
            return block(BlockKind::BlockAlways, Some(t.id), tool, &reason(t));
        }
        if first(ToolAction::AllowAlways).is_some() {
            return CallVerdict::Allow;
        }
        if untrusted {
            if let Some(t) = first(ToolAction::BlockWhenContextIsUntrusted) {
                return block(BlockKind::BlockWhenUntrusted, Some(t.id), tool, &reason(t));
            }
        }
        if first(ToolAction::AllowWhenContextIsUntrusted).is_some() {
            return CallVerdict::Allow;
        }
        match self.global {
            GlobalToolPolicy::Permissive => CallVerdict::Allow,
            GlobalToolPolicy::Restrictive => block(
                BlockKind::NotAllowed,
                None,
                tool,
                "tool calls are blocked unless a policy allows them, and none allows this one",
            ),
        }
    }
}

fn block(kind: BlockKind, policy: Option<Uuid>, tool: &str, reason: &str) -> CallVerdict {
    CallVerdict::Block(Blocked {
        kind,
        policy,
        message: format!("[Gatehouse] The call to tool `{tool}` was blocked: {reason}"),
    })
}

#[cfg(test)]
mod tests;
