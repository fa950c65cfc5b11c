package io.nthlb.rules;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A whole nat table as parsed from a rules file: immutable, and ordered as {@code iptables -S} prints it
 * (built-in chains first in the table's order, then user chains sorted by name).
 */
public record Ruleset(List<Chain> chains) {

    public Ruleset {
        chains = List.copyOf(chains);
    }

    /** The chain of that name, or {@code null}. */
    public Chain chain(String name) {
        for (Chain chain : chains) {
            if (chain.name().equals(name)) {
                return chain;
            }
        }
        return null;
    }

    /** Chains by name, in print order. */
    public Map<String, Chain> byName() {
        Map<String, Chain> map = new LinkedHashMap<>();
        for (Chain chain : chains) {
            map.put(chain.name(), chain);
        }
        return map;
    }

    /** Every rule of every chain, in print order. */
    public int ruleCount() {
        int n = 0;
        for (Chain chain : chains) {
            n += chain.rules().size();
        }
        return n;
    }
}
