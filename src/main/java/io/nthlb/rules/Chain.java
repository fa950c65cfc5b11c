package io.nthlb.rules;

import java.util.List;

/**
 * A chain of the nat table: a built-in chain has a policy ({@code ACCEPT}), a user chain has none.
 */
public record Chain(String name, String policy, List<Rule> rules) {

    /** The built-in chains of the nat table, in the order iptables prints them. */
    public static final List<String> BUILT_IN = List.of("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING");

    public Chain {
        rules = List.copyOf(rules);
    }

    public boolean isBuiltIn() {
        return policy != null;
    }
}
