//! Where a request's result may also go: its `reply_topic`, vetted before anything is
//! produced there.
//!
//! A producer chooses the reply topic, so it is untrusted input: it must match
//! `pipeline.reply_topic_pattern` (by default any legal Kafka topic name) and can never be one
//! of Volcano's own topics. A `Result` written into `volcano.commits` would sit in a topic
//! kept forever that every instance reads at start; into `volcano.requests`, it would be read
//! back as a request. A refused reply topic makes the request's result an `ERROR`
//! (`reply_topic_refused`) on `volcano.results`, so the producer learns why, and nothing is
//! produced to the topic. The pipeline role ([`crate::pipeline_role`]) applies it to every
//! request; durable requests are vetted there too, before their workflow starts.

use regex::Regex;

use crate::config::VolcanoConfig;

/// The error kind of a result whose reply topic was refused.
pub const REFUSED_KIND: &str = "reply_topic_refused";

/// The reply-topic rules of one configuration, compiled once.
#[derive(Debug, Clone)]
pub struct ReplyPolicy {
    pattern: Regex,
    own: Vec<String>,
}

impl ReplyPolicy {
    /// Compiles `pipeline.reply_topic_pattern`; a pattern that does not compile is a
    /// configuration error, reported at start.
    pub fn new(config: &VolcanoConfig) -> Result<Self, regex::Error> {
        Ok(ReplyPolicy {
            pattern: Regex::new(&config.pipeline.reply_topic_pattern)?,
            own: config
                .kafka
                .topics
                .all()
                .iter()
                .map(|t| t.to_string())
                .collect(),
        })
    }

    /// Why `topic` may not be replied to, if it may not.
    pub fn refusal(&self, topic: &str) -> Option<String> {
        if self.own.iter().any(|own| own == topic) {
            return Some(format!(
                "reply_topic {topic:?} is one of Volcano's own topics; results go to \
                 volcano.results, and a reply topic must be another"
            ));
        }
        if !self.pattern.is_match(topic) {
            return Some(format!(
                "reply_topic {topic:?} does not match pipeline.reply_topic_pattern ({})",
                self.pattern.as_str()
            ));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volcano_s_own_topics_and_illegal_names_are_refused() {
        let mut config = VolcanoConfig::default();
        let policy = ReplyPolicy::new(&config).unwrap();
        for own in config.kafka.topics.all() {
            assert!(policy.refusal(own).is_some(), "{own}");
        }
        assert!(policy.refusal("replies.acme").is_none());
        assert!(policy.refusal("no spaces").is_some());
        assert!(policy.refusal(&"x".repeat(250)).is_some());
        assert!(policy.refusal("").is_some());

        config.pipeline.reply_topic_pattern = "^replies\\.".into();
        let narrow = ReplyPolicy::new(&config).unwrap();
        assert!(narrow.refusal("replies.acme").is_none());
        let refused = narrow.refusal("other").unwrap();
        assert!(refused.contains("reply_topic_pattern"), "{refused}");

        config.pipeline.reply_topic_pattern = "(".into();
        assert!(ReplyPolicy::new(&config).is_err());
    }
}
