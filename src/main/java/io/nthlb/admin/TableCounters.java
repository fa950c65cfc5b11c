package io.nthlb.admin;

/** The live counters of the running nat table, as {@code /metrics} reads them at each scrape. */
public interface TableCounters {

    /** Receives one rule's counters: its chain, its 1-based number in the chain, pkts and bytes. */
    @FunctionalInterface
    interface RuleVisitor {
        void rule(String chain, int number, long packets, long bytes);
    }

    /** Receives one built-in chain's policy counters. */
    @FunctionalInterface
    interface PolicyVisitor {
        void policy(String chain, long packets, long bytes);
    }

    /** Every rule of every chain, in the table's order. */
    void forEachRule(RuleVisitor visitor);

    /** Every built-in chain's policy. */
    void forEachPolicy(PolicyVisitor visitor);
}
