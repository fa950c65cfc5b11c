package io.nthlb.nat;

import io.nthlb.rules.Chain;

/** One chain of the run-time table: its compiled rules, its policy counters and its candidate index. */
final class CompiledChain {

    final String name;
    /** The policy of a built-in chain, or {@code null} for a user chain. */
    final String policy;
    final CompiledRule[] rules;
    /** The policy's counters (a built-in chain), or {@code null}. */
    final RuleCounters policyCounters;
    /** {@code PREROUTING policy ACCEPT}, for logs. */
    final String policyLabel;
    final CandidateIndex index;

    CompiledChain(Chain chain, CompiledRule[] rules, RuleCounters policyCounters) {
        this.name = chain.name();
        this.policy = chain.policy();
        this.rules = rules;
        this.policyCounters = policyCounters;
        this.policyLabel = policy == null ? null : name + " policy " + policy;
        this.index = CandidateIndex.of(rules);
    }

    boolean isBuiltIn() {
        return policy != null;
    }
}
