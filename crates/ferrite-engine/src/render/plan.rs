//! The plan: what the render core does each block, as data. The compiler
//! ([`crate::compile`]) decides every strategy and writes it down here as one
//! [`Op`] per step; [`super::CompiledGraph::render_block`] runs the steps in
//! order and decides nothing but what each block's data asks (whether a
//! parameter is constant this block, whether a block is mono).
//!
//! Each step also lists the steps whose output it reads ([`Step::after`]),
//! so that a scheduler can run independent steps on other threads.
//! Steps that share run-time state beyond their buffers: a deferred
//! source's samples are written by the step that sums them (into scratch
//! rows shared by every deferred source), and twins hand their mono block
//! to their partner's step.

/// One filter of a pair of twins (see [`super::ops::twin`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Twin {
    /// The partner's render index.
    pub(crate) partner: usize,
    /// The partner's fused chain, when it is a chain's tail.
    pub(crate) partner_chain: Option<usize>,
    /// This twin comes first in render order (its block may wait for the partner).
    pub(crate) first: bool,
}

/// What one step does (`node`: a render index; `group`, `chain`: indices
/// into the graph's banks, compressor groups and chains).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Op {
    /// Sums the inputs and runs the processor on them (a generator of one
    /// signal, `mono_source`, on channel 0 only; see [`super::ops::node`]).
    Process { node: usize, mono_source: bool },
    /// A mono generator whose one reader sums it: its parameters now, its
    /// samples when the reader takes them ([`super::ops::defer`]).
    Defer { node: usize },
    /// A `gain` whose reader applies it while summing, as long as it is
    /// constant ([`super::ops::fold`]); `pass_through`: rendered in place
    /// on its one input, so a settled block leaves everything as it was.
    Fold { node: usize, pass_through: bool },
    /// The tail of fused biquad chain `chain`: runs the chain's members and
    /// itself, as kept cascades when nothing changed ([`super::ops::chain`]).
    Chain { node: usize, chain: usize, twin: Option<Twin> },
    /// An `eq` whose mono blocks run paired with its twin's ([`super::ops::twin`]).
    Twin { node: usize, twin: Twin },
    /// Member `member` of filter bank `group`: loaded into the bank when
    /// its parameters are constant, else run alone ([`super::ops::bank`]).
    BankMember { node: usize, group: usize, member: usize },
    /// Runs filter bank `group` (after its last member) and hands samples back.
    Bank { group: usize },
    /// Member `member` of compressor group `group` ([`super::ops::compressors`]).
    CompressorMember { node: usize, group: usize, member: usize },
    /// Runs compressor group `group`'s recursions and applies the gains.
    Compressors { group: usize },
    /// A compressor with a sidechain: sums its inputs, detects on its key
    /// ([`super::ops::keyed`]). A keyed member of a compressor group is a
    /// `CompressorMember` instead (its detector reads the key there too).
    Keyed { node: usize },
}

impl Op {
    /// The node the step renders, if it renders one.
    pub(crate) fn node(&self) -> Option<usize> {
        match *self {
            Op::Process { node, .. }
            | Op::Defer { node }
            | Op::Fold { node, .. }
            | Op::Chain { node, .. }
            | Op::Twin { node, .. }
            | Op::BankMember { node, .. }
            | Op::CompressorMember { node, .. }
            | Op::Keyed { node } => Some(node),
            Op::Bank { .. } | Op::Compressors { .. } => None,
        }
    }

    /// The step's twin link, if it is one of twins.
    pub(crate) fn twin(&self) -> Option<Twin> {
        match *self {
            Op::Twin { twin, .. } => Some(twin),
            Op::Chain { twin, .. } => twin,
            _ => None,
        }
    }
}

/// One step of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Step {
    pub(crate) op: Op,
    /// The steps (indices into the plan, all earlier) whose output this step reads.
    pub(crate) after: Box<[usize]>,
}

/// The steps of one block, in an order that respects every [`Step::after`].
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub(crate) steps: Box<[Step]>,
}

impl Plan {
    /// How many steps match `f`.
    pub(crate) fn count(&self, f: impl Fn(&Op) -> bool) -> usize {
        self.steps.iter().filter(|s| f(&s.op)).count()
    }
}
