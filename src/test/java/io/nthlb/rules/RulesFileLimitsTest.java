package io.nthlb.rules;

import static org.assertj.core.api.Assertions.assertThat;

import io.nthlb.nat.NatTable;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The loader's line reading (bash's continuations, strict UTF-8, bounded lines) and the kernel's jump limits. */
class RulesFileLimitsTest {

    private static LoadResult parse(String text) {
        return RulesParser.parse("t.rules", text);
    }

    private static LoadResult parse(byte[] bytes) throws IOException {
        return RulesParser.parse("t.rules", () -> new ByteArrayInputStream(bytes));
    }

    private static List<String> errors(LoadResult r) {
        return r.errors().stream().map(RuleError::toString).toList();
    }

    @Test
    void aCommentEndingInABackslashDoesNotSwallowTheNextLine() {
        LoadResult r = parse("# note \\\niptables -t nat -A OUTPUT -p tcp -j DNAT --to-destination 10.0.0.1:80\n");
        assertThat(r.errors()).isEmpty();
        assertThat(r.ruleset().chain("OUTPUT").rules()).hasSize(1);
    }

    @Test
    void anEscapedBackslashAtTheEndOfALineIsNotAContinuation() {
        LoadResult r = parse("iptables -t nat -A OUTPUT -m comment --comment x\\\\\niptables -t nat -A OUTPUT -j ACCEPT\n");
        assertThat(r.errors()).isEmpty();
        assertThat(r.ruleset().chain("OUTPUT").rules()).hasSize(2);
        assertThat(r.ruleset().chain("OUTPUT").rules().get(0).matches()).containsExactly(new CommentMatch("x\\"));
    }

    @Test
    void aContinuationJoinsTheLinesWithNothingBetween() {
        LoadResult r = parse("iptables -t nat -A OUTPUT -p tcp --dport 8\\\n0 -j ACCEPT\n");
        assertThat(r.errors()).isEmpty();
        assertThat(RulePrinter.listRules(r.ruleset())).contains("-A OUTPUT -p tcp -m tcp --dport 80 -j ACCEPT\n");
    }

    @Test
    void aContinuationInsideDoubleQuotesJoinsTheLinesAndErrorsNameTheFirstLine() {
        LoadResult r = parse("iptables -t nat -A OUTPUT -m comment --comment \"a\\\nb\" -j ACCEPT\n"
                + "iptables -t nat -A OUTPUT \\\n -j NOPE\n");
        assertThat(r.ruleset().chain("OUTPUT").rules().get(0).matches()).containsExactly(new CommentMatch("ab"));
        assertThat(errors(r)).containsExactly("t.rules:3: Chain 'NOPE' does not exist");
    }

    /** PREROUTING -> C1 -> ... -> C{depth}, as command lines in order. */
    private static String commandChain(int depth) {
        StringBuilder sb = new StringBuilder();
        for (int i = 1; i <= depth; i++) {
            sb.append("iptables -t nat -N C").append(i).append('\n');
        }
        sb.append("iptables -t nat -A PREROUTING -j C1\n");
        for (int i = 1; i < depth; i++) {
            sb.append("iptables -t nat -A C").append(i).append(" -j C").append(i + 1).append('\n');
        }
        return sb.toString();
    }

    @Test
    void aChainFifteenJumpsBelowAHookIsTakenAndSixteenIsRefusedAtItsLine() {
        assertThat(parse(commandChain(15)).errors()).isEmpty();
        // Lines 1-16 create the chains, 17 hooks C1, 17 + k jumps from Ck: C15 -> C16 is line 32.
        assertThat(errors(parse(commandChain(16))))
                .containsExactly("t.rules:32: RULE_APPEND failed (Too many links): rule in chain C15");
    }

    @Test
    void aDeepChainIsRefusedWhereItIsHookedAndGotosCount() {
        StringBuilder sb = new StringBuilder();
        for (int i = 1; i <= 17; i++) {
            sb.append("iptables -t nat -N C").append(i).append('\n');
        }
        for (int i = 16; i >= 1; i--) {
            sb.append("iptables -t nat -A C").append(i).append(" -j C").append(i + 1).append('\n');
        }
        sb.append("iptables -t nat -A OUTPUT -j C2\n");
        sb.append("iptables -t nat -A OUTPUT -j C3\n");
        sb.append("iptables -t nat -A POSTROUTING -g C2\n");
        sb.append("iptables -t nat -I INPUT -j C2\n");
        assertThat(errors(parse(sb.toString()))).containsExactly(
                "t.rules:34: RULE_APPEND failed (Too many links): rule in chain OUTPUT",
                "t.rules:36: RULE_APPEND failed (Too many links): rule in chain POSTROUTING",
                "t.rules:37: RULE_INSERT failed (Too many links): rule in chain INPUT");
    }

    @Test
    void iptablesRestoreRefusesEveryLaterRuleOfATableWhoseJumpsWereRefused() {
        StringBuilder sb = new StringBuilder("*nat\n");
        for (int i = 1; i <= 16; i++) {
            sb.append(":C").append(i).append(" - [0:0]\n");
        }
        sb.append("-A PREROUTING -j C1\n");
        for (int i = 1; i <= 15; i++) {
            sb.append("-A C").append(i).append(" -j C").append(i + 1).append('\n');
        }
        sb.append("-A PREROUTING -p tcp -j DNAT --to-destination 1.2.3.4\n-A POSTROUTING -j MASQUERADE\n")
                .append(":NEW - [0:0]\n-A NEW -j ACCEPT\n-A C1 -j NEW\nCOMMIT\n");
        // What iptables-restore 1.8.9 (nf_tables) printed for this file.
        assertThat(errors(parse(sb.toString()))).containsExactly(
                "t.rules:33: RULE_APPEND failed (Too many links): rule in chain C15",
                "t.rules:34: RULE_APPEND failed (Too many links): rule in chain PREROUTING",
                "t.rules:35: RULE_APPEND failed (Too many links): rule in chain POSTROUTING",
                "t.rules:37: RULE_APPEND failed (Too many links): rule in chain NEW",
                "t.rules:38: RULE_APPEND failed (Too many links): rule in chain C1");
    }

    @Test
    void aLoopIsFoundWhereverItIsClosedAndAnUnhookedLoopIsTaken() {
        LoadResult r = parse("iptables -t nat -N A\niptables -t nat -N B\niptables -t nat -A A -j B\n"
                + "iptables -t nat -A B -j A\niptables -t nat -A OUTPUT -j B\niptables -t nat -A OUTPUT -j ACCEPT\n");
        assertThat(errors(r)).containsExactly("t.rules:5: RULE_APPEND failed (Too many links): rule in chain OUTPUT");
        assertThat(r.ruleset().chain("OUTPUT").rules()).hasSize(1);
    }

    @Test
    void aTenThousandDeepChainNoHookReachesLoadsAndCompiles() {
        StringBuilder sb = new StringBuilder();
        int depth = 10_000;
        for (int i = 1; i <= depth; i++) {
            sb.append("iptables -t nat -N C").append(i).append('\n');
        }
        for (int i = 1; i < depth; i++) {
            sb.append("iptables -t nat -A C").append(i).append(" -j C").append(i + 1).append('\n');
        }
        sb.append("iptables -t nat -A PREROUTING -j C1\n");
        LoadResult r = parse(sb.toString());
        assertThat(errors(r)).containsExactly("t.rules:" + (2 * depth)
                + ": RULE_APPEND failed (Too many links): rule in chain PREROUTING");
        // Kernels take a deep chain no hook reaches; so does the table nthlb runs.
        NatTable table = NatTable.compile(r.ruleset(), null);
        assertThat(table).isNotNull();
    }

    @Test
    void invalidUtf8AndNulBytesAreErrorsAtTheirLine() throws IOException {
        byte[] bytes = "iptables -t nat -A OUTPUT -j ACCEPT\niptables -t nat -A OUTPUT -m comment --comment \u00ff\u00fe -j ACCEPT\n"
                .getBytes(StandardCharsets.ISO_8859_1);
        assertThat(errors(parse(bytes))).containsExactly("t.rules:2: nthlb: invalid UTF-8 (byte 0xff at column 48)");
        byte[] nul = "iptables -t nat -A OUTPUT -j ACCEPT\u0000\n".getBytes(StandardCharsets.UTF_8);
        assertThat(errors(parse(nul))).containsExactly("t.rules:1: nthlb: NUL byte at column 36"
                + " (no command or rule can hold one)");
    }

    @Test
    void aCommandOverTwoMebibytesIsRefusedAtItsFirstLineAndALineOverTwoMebibytesAtItself() {
        String words = "-p tcp \\\n".repeat(RulesParser.COMMAND_LIMIT / 7 + 1);
        LoadResult r = parse("iptables -t nat -A OUTPUT \\\n" + words + "\niptables -t nat -A OUTPUT -j ACCEPT\n");
        assertThat(errors(r)).containsExactly("t.rules:1: nthlb: command longer than 2097152 bytes:"
                + " bash could not run it either (Argument list too long)");
        assertThat(r.ruleset().chain("OUTPUT").rules()).hasSize(1);

        String line = "-p tcp ".repeat(RulesParser.COMMAND_LIMIT / 7 + 1);
        r = parse("iptables -t nat -A OUTPUT \\\n" + line + "\niptables -t nat -A OUTPUT -j ACCEPT\n");
        assertThat(errors(r)).containsExactly("t.rules:2: nthlb: command longer than 2097152 bytes:"
                + " bash could not run it either (Argument list too long)");
        assertThat(r.ruleset().chain("OUTPUT").rules()).hasSize(1);
    }

    @Test
    void optionsForAnEarlyMatchAfterManyLaterMatchesAreReadInLinearTime() {
        int n = 60_000;
        String line = "iptables -t nat -A OUTPUT -m mark" + " -m comment".repeat(n) + " --mark 1".repeat(n) + " -j ACCEPT\n";
        long start = System.nanoTime();
        LoadResult r = parse(line);
        assertThat(java.time.Duration.ofNanos(System.nanoTime() - start)).isLessThan(java.time.Duration.ofSeconds(20));
        assertThat(errors(r)).containsExactly("t.rules:1: comment: option \"--comment\" must be specified");
    }

    @Test
    void restoreLinesKeepIptablesRestoresLimits() {
        String comments = " -m comment --comment x".repeat(63);
        LoadResult r = parse("*nat\n-A OUTPUT" + comments + " -j ACCEPT\n-A OUTPUT -m comment --comment "
                + "a".repeat(1024) + " -j ACCEPT\n-A OUTPUT -m comment --comment " + "b".repeat(10_300)
                + "\n-A OUTPUT -m comment --comment " + "c".repeat(1023) + " -j ACCEPT\nCOMMIT\n");
        assertThat(errors(r)).containsExactly("t.rules:2: Parser cannot handle more arguments",
                "t.rules:3: Parameter too long!",
                "t.rules:4: nthlb: line longer than 10239 bytes: iptables-restore would cut it");
        assertThat(r.ruleset().chain("OUTPUT").rules()).hasSize(1);
    }

    @Test
    void errorsQuoteABoundedExcerptWithControlCharactersEscaped() {
        LoadResult r = parse("iptables -t nat -A OUTPUT -j " + "X".repeat(100_000) + "\u001b[2J\n");
        assertThat(r.errors()).hasSize(1);
        String message = r.errors().get(0).message();
        assertThat(message).hasSizeLessThanOrEqualTo(RuleError.MAX_MESSAGE + 16).startsWith("Chain 'XXX")
                .contains("...").endsWith("X\\x1b[2J' does not exist");
    }
}
