package io.nthlb.admin;

/** The running nat table as text, in the layouts {@code iptables -t nat -nvL} and {@code iptables-save} print. */
public interface TableListing {

    /**
     * The {@code -nvL} listing with the live counters.
     *
     * @param chain one chain's name, or {@code null} for every chain
     * @param exact {@code -x}: numbers in full instead of {@code K}, {@code M}, ... past 99999
     * @throws NoSuchChainException when {@code chain} is not in the table
     */
    String list(String chain, boolean exact);

    /** The {@code iptables-save} text, with {@code [pkts:bytes]} on every chain and rule when {@code counters}. */
    String save(boolean counters);

    /**
     * The backends the rules can send connections to, one line each after a header: address, state ({@code up},
     * {@code down}, or {@code unchecked} without health checks), since when, when it was last checked, and when
     * the last failure was and what it was (the last column, which may have spaces).
     */
    default String backends() {
        return "backend state since checked_at last_error_at last_error\n";
    }
}
