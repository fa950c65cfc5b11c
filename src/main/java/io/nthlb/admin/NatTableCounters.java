package io.nthlb.admin;

import io.nthlb.nat.NatTable;
import io.nthlb.nat.RuleCounters;
import io.nthlb.rules.Chain;
import java.util.function.Supplier;

/** The counters of whichever nat table is running, read through to it at each call (so across reloads too). */
public final class NatTableCounters implements TableCounters {

    private final Supplier<NatTable> running;

    public NatTableCounters(Supplier<NatTable> running) {
        this.running = running;
    }

    @Override
    public void forEachRule(RuleVisitor visitor) {
        NatTable table = running.get();
        for (Chain chain : table.ruleset().chains()) {
            for (int i = 0; i < chain.rules().size(); i++) {
                RuleCounters counters = table.counters(chain.name(), i);
                visitor.rule(chain.name(), i + 1, counters.packets(), counters.bytes());
            }
        }
    }

    @Override
    public void forEachPolicy(PolicyVisitor visitor) {
        NatTable table = running.get();
        for (Chain chain : table.ruleset().chains()) {
            if (chain.isBuiltIn()) {
                RuleCounters counters = table.policyCounters(chain.name());
                visitor.policy(chain.name(), counters.packets(), counters.bytes());
            }
        }
    }
}
