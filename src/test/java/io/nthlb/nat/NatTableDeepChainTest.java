package io.nthlb.nat;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.nthlb.rules.AddressMatch;
import io.nthlb.rules.Chain;
import io.nthlb.rules.DnatTarget;
import io.nthlb.rules.JumpTarget;
import io.nthlb.rules.Origin;
import io.nthlb.rules.PortRange;
import io.nthlb.rules.Rule;
import io.nthlb.rules.Ruleset;
import io.nthlb.rules.Target;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A table whose jumps go far deeper than the kernel allows (a {@link Ruleset} made in code is not checked
 * as a file is) compiles and decides without using the thread's stack for the depth.
 */
class NatTableDeepChainTest {
    private static final int DEPTH = 20_000;
    private static final int BACKEND = 0x0A000001;

    private static Rule rule(String chain, Target target) {
        return new Rule(chain, AddressMatch.ANY, AddressMatch.ANY, null, null, null, List.of(), target,
                new Origin("deep", 1));
    }

    /** PREROUTING -> C1 -> ... -> C{DEPTH}, whose one rule DNATs; {@code loop} makes the last jump back to C1. */
    private static Ruleset deepTable(boolean loop) {
        List<Chain> chains = new ArrayList<>();
        for (String name : Chain.BUILT_IN) {
            List<Rule> rules = name.equals("PREROUTING") ? List.of(rule(name, new JumpTarget("C1", false)))
                    : List.of();
            chains.add(new Chain(name, "ACCEPT", rules));
        }
        for (int i = 1; i <= DEPTH; i++) {
            String name = "C" + i;
            Target target = i < DEPTH ? new JumpTarget("C" + (i + 1), false)
                    : loop ? new JumpTarget("C1", false)
                    : new DnatTarget(BACKEND, BACKEND, PortRange.of(8080), false, false);
            chains.add(new Chain(name, null, List.of(rule(name, target))));
        }
        return new Ruleset(chains);
    }

    @Test
    void twentyThousandJumpsDeepCompileAndDecide() {
        NatTable table = NatTable.compile(deepTable(false), null);
        Decision decision = table.decide(0x7F000001, 40000, 0x7F000002, 80);
        assertThat(decision.destination()).isEqualTo(new InetSocketAddress("10.0.0.1", 8080));
    }

    @Test
    void twentyThousandJumpsDeepLoopIsRefusedWithItsPath() {
        assertThatThrownBy(() -> NatTable.compile(deepTable(true), null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("chains jump in a loop: ")
                .hasMessageEndingWith("C" + DEPTH + " -> C1");
    }
}
