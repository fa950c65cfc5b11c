package io.nthlb.rules;

/**
 * A read-only view of a table's packet and byte counters, by chain and rule number, as {@code -nvL} and
 * {@code iptables-save -c} print them; whoever keeps them live (the run-time table) provides it.
 */
public interface CounterView {
    /** Counters that are all zero, as after loading a table. */
    CounterView ZERO = new CounterView() {
        @Override
        public long packets(String chain, int index) {
            return 0;
        }

        @Override
        public long bytes(String chain, int index) {
            return 0;
        }

        @Override
        public long policyPackets(String chain) {
            return 0;
        }

        @Override
        public long policyBytes(String chain) {
            return 0;
        }
    };

    /** Packets (for the nat table: connections) counted by rule {@code index} (0-based) of {@code chain}. */
    long packets(String chain, int index);

    /** Bytes counted by rule {@code index} (0-based) of {@code chain}. */
    long bytes(String chain, int index);

    /** Packets that fell off the end of built-in {@code chain} and met its policy. */
    long policyPackets(String chain);

    /** Bytes that fell off the end of built-in {@code chain} and met its policy. */
    long policyBytes(String chain);
}
