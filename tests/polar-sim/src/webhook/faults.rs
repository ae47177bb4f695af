//! Delivery faults injected on demand: the ways real deliveries go wrong.
//!
//! A rule applies to the next `count` events (optionally only of one type), then is used up.
//! Rules are consulted in the order they were added; the first match wins.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Fault {
    /// Never delivered (as if all retries were exhausted while the consumer was down).
    Drop,
    /// Delivered twice with the same `webhook-id` (at-least-once delivery).
    Duplicate,
    /// Held back and delivered right after the next event.
    Reorder,
    /// Delivered after `ms` milliseconds; later events overtake it.
    Delay { ms: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRule {
    #[serde(flatten)]
    pub fault: Fault,
    /// Only events of this type; any type when absent.
    #[serde(default)]
    pub event_type: Option<String>,
    /// How many matching events this rule still applies to.
    #[serde(default = "one")]
    pub count: u32,
}

fn one() -> u32 {
    1
}

/// Takes the fault for an event of `event_type`, using up one application of its rule.
pub fn take(rules: &mut Vec<FaultRule>, event_type: &str) -> Option<Fault> {
    let i = rules
        .iter()
        .position(|r| r.count > 0 && r.event_type.as_deref().is_none_or(|t| t == event_type))?;
    let rule = rules.get_mut(i)?;
    rule.count -= 1;
    let fault = rule.fault.clone();
    if rule.count == 0 {
        rules.remove(i);
    }
    Some(fault)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_match_by_type_and_wear_out() {
        let mut rules = vec![
            FaultRule {
                fault: Fault::Drop,
                event_type: Some("order.paid".into()),
                count: 1,
            },
            FaultRule {
                fault: Fault::Duplicate,
                event_type: None,
                count: 2,
            },
        ];
        assert_eq!(
            take(&mut rules, "subscription.updated"),
            Some(Fault::Duplicate)
        );
        assert_eq!(take(&mut rules, "order.paid"), Some(Fault::Drop));
        assert_eq!(take(&mut rules, "order.paid"), Some(Fault::Duplicate));
        assert_eq!(take(&mut rules, "order.paid"), None);
        assert!(rules.is_empty());
    }
}
