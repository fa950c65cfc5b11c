package io.nthlb.nat;

import io.nthlb.rules.Chain;

/** One chain of the run-time table: its compiled rules, its policy counters and its candidate index. */
final class CompiledChain {

    final String name;
    /** The policy of a built-in chain, or {@code null} for a user chain. */
    final String policy;
    final CompiledRule[] rules;
    /** The policy's counters (a built-in chain), or {@code null}. */
    final LiveCounters policyCounters;
    /** {@code PREROUTING policy ACCEPT}, for logs. */
    final String policyLabel;
    /** Set by {@link #index()} once the rules are in; published with the table's final fields. */
    private CandidateIndex index;

    // Layout state of FlatProgram, set while it is built.
    /** Jumps to this chain, plus two for each goto: 1 means one path leads here. */
    int referrers;
    /** Whether the chain's records are laid out. */
    boolean emitted;
    /** The record of the first rule, or -1 for an empty chain. */
    int firstRecord = -1;
    /** The chain's {@link FlatProgram.Keyed} index, or -1 when it is walked rule by rule. */
    int keyedId = -1;

    /** A chain whose {@code rules} array is still to be filled; call {@link #index()} after. */
    CompiledChain(Chain chain, CompiledRule[] rules, LiveCounters policyCounters) {
        this.name = chain.name();
        this.policy = chain.policy();
        this.rules = rules;
        this.policyCounters = policyCounters;
        this.policyLabel = policy == null ? null : name + " policy " + policy;
    }

    /** Builds the candidate index once {@link #rules} is filled ({@link FlatProgram} reads it for keyed chains). */
    void index() {
        this.index = CandidateIndex.of(rules);
    }

    CandidateIndex candidateIndex() {
        return index;
    }

    boolean isBuiltIn() {
        return policy != null;
    }
}
