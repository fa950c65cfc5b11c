package io.nthlb.nat;

import io.nthlb.rules.Rule;
import java.net.InetSocketAddress;

/**
 * Where the nat table sends one new connection: a rewritten destination (DNAT or REDIRECT), or no NAT at
 * all (an {@code ACCEPT} rule or the chain's policy), with the rule that decided it.
 *
 * <p>A decision also remembers every counter the kernel would have moved for the connection (the jump
 * rules along the path, rules without a target, the deciding rule, or the policy), so that the relay can
 * credit the payload to them with {@link #addBytes}.
 */
public final class Decision {

    private final InetSocketAddress destination;
    private final String verdict;
    /** The rule that decided, or {@code null} when the policy did. */
    private final CompiledRule decider;
    /** {@code PREROUTING policy ACCEPT} when the policy decided. */
    private final String policyLabel;
    private final LiveCounters[] credited;
    private final int creditedCount;

    Decision(InetSocketAddress destination, String verdict, CompiledRule decider, String policyLabel,
             LiveCounters[] credited, int creditedCount) {
        this.destination = destination;
        this.verdict = verdict;
        this.decider = decider;
        this.policyLabel = policyLabel;
        this.credited = credited;
        this.creditedCount = creditedCount;
    }

    /** The backend to connect to, or {@code null} when no rule NATs the connection. */
    public InetSocketAddress destination() {
        return destination;
    }

    /** Whether a DNAT or REDIRECT rule rewrote the destination. */
    public boolean isNat() {
        return destination != null;
    }

    /**
     * The verdict when the connection is not NATed ({@code ACCEPT}: from an {@code ACCEPT} rule, a
     * terminating target such as {@code MASQUERADE}, or the chain's policy), {@code null} when it is.
     */
    public String verdict() {
        return verdict;
    }

    /**
     * A short label for logs: the deciding rule's chain and 1-based number ({@code PREROUTING:1},
     * {@code KUBE-SEP-ABC:2}), or {@code PREROUTING policy ACCEPT} when the connection fell off the chain.
     */
    public String label() {
        return decider != null ? decider.label() : policyLabel;
    }

    /** The rule that decided, or {@code null} when the policy did. */
    public Rule rule() {
        return decider != null ? decider.rule : null;
    }

    /**
     * Credits {@code n} relayed payload bytes to every rule whose counters this connection moved, and to
     * the policy when it decided. Thread-safe; called as bytes flow.
     */
    public void addBytes(long n) {
        for (int i = 0; i < creditedCount; i++) {
            credited[i].addBytes(n);
        }
    }

    /** {@code PREROUTING:1 -> 172.16.1.201:80}, {@code PREROUTING:3 ACCEPT} or {@code PREROUTING policy ACCEPT}. */
    @Override
    public String toString() {
        if (destination != null) {
            return label() + " -> " + destination.getAddress().getHostAddress() + ":" + destination.getPort();
        }
        // A policy's label already names the verdict.
        return decider == null ? policyLabel : label() + " " + verdict;
    }
}
