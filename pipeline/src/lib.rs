//! Volcano's pipeline: the pure stages that turn a text request into an answer.
//!
//! Every stage is a function of (request, compiled registry snapshot, session state); nothing
//! here touches the network or the broker, so the stages are tested and benchmarked without
//! one. The connectors crate feeds requests in and carries results out.
//!
//! - [`model`]: the request and result records.
//! - [`answers`]: scoring the fast path's answers against a labelled set of requests.
//! - [`calc`]: exact decimal arithmetic over expressions in symbols and English words.
//! - [`decompose`]: splitting a request into ordered steps with references.
//! - [`extract`]: entity extraction with Duckling's dimensions and value shapes.
//! - [`registry`]: definitions from git (tools, workflows, configs), validated and compiled
//!   per tenant; [`classify`] matches a request against one compiled registry.
//! - [`tools`]: the builtin tool kinds a definition configures.
//! - [`fast_path`]: the in-process chain that answers a request.
//! - [`durable`]: the job a durable request carries to its workflow, and how its steps'
//!   inputs and conditions are evaluated.

pub mod answers;
pub mod calc;
pub mod classify;
pub mod decompose;
pub mod durable;
pub mod extract;
pub mod fast_path;
pub mod model;
pub mod registry;
pub mod tools;
