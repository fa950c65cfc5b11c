package io.nthlb.rules;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

class RulesParserTest {
    private static final Path RULES = Path.of("src/test/resources/rules");

    private static LoadResult parse(String text) {
        return RulesParser.parse("t.rules", text);
    }

    private static Rule onlyRule(String command) {
        LoadResult r = parse(command);
        assertThat(r.errors()).isEmpty();
        List<Rule> all = new ArrayList<>();
        r.ruleset().chains().forEach(c -> all.addAll(c.rules()));
        assertThat(all).hasSize(1);
        return all.get(0);
    }

    /** Cases and messages captured from the real iptables 1.8.9; see the file's header. */
    static Stream<Arguments> iptablesErrors() throws IOException {
        List<String> lines = Files.readAllLines(RULES.resolve("iptables-errors.txt"), StandardCharsets.UTF_8);
        List<Arguments> cases = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).startsWith("#")) {
                continue;
            }
            cases.add(Arguments.of(lines.get(i), lines.get(i + 1).strip()));
            i++;
        }
        return cases.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("iptablesErrors")
    void refusesWhatIptablesRefusesInItsWords(String command, String message) {
        LoadResult r = parse("iptables -t nat " + command + "\n");
        assertThat(r.errors()).extracting(RuleError::toString).containsExactly("t.rules:1: " + message);
    }

    @Test
    void printsTheSeedAsSemanticsShowsIt() throws IOException {
        LoadResult r = RulesFile.load(RULES.resolve("seed.rules"));
        assertThat(r.errors()).isEmpty();
        assertThat(RulePrinter.listRules(r.ruleset())).isEqualTo("""
                -P PREROUTING ACCEPT
                -P INPUT ACCEPT
                -P OUTPUT ACCEPT
                -P POSTROUTING ACCEPT
                -A PREROUTING -d 10.0.1.200/32 -p tcp -m tcp --dport 80 -m statistic --mode nth --every 2 --packet 0 -j DNAT --to-destination 172.16.1.201:80
                -A PREROUTING -d 10.0.1.200/32 -p tcp -m tcp --dport 80 -m statistic --mode nth --every 1 --packet 0 -j DNAT --to-destination 172.16.1.202:80
                """);
    }

    @Test
    void normalisesKubeProxyOptionOrderAsIptablesDoes() {
        LoadResult r = parse("iptables -t nat -N KUBE-SERVICES\niptables -t nat -N X\n"
                + "iptables -t nat -A KUBE-SERVICES -m comment --comment \"ns1/svc1 cluster IP\" -m tcp -p tcp"
                + " -d 172.30.1.1 --dport 80 -j X\n");
        assertThat(r.errors()).isEmpty();
        assertThat(RulePrinter.rule(r.ruleset().chain("KUBE-SERVICES").rules().get(0))).isEqualTo(
                "-A KUBE-SERVICES -d 172.30.1.1/32 -p tcp -m comment --comment \"ns1/svc1 cluster IP\" -m tcp"
                        + " --dport 80 -j X");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "-A PREROUTING -p 6 -d 10.0.1.7/24 -j ACCEPT | -A PREROUTING -p tcp -d 10.0.1.0/255.255.255.0 -j ACCEPT",
        "-A PREROUTING -p tcp --dport http -j ACCEPT | -A PREROUTING -p tcp -m tcp --destination-port 80 -j ACCEPT",
        "-A PREROUTING -d 10.0.1.200 -j ACCEPT | -A PREROUTING --destination 10.0.1.200/32 --jump ACCEPT",
        "-A PREROUTING -p udp --sport domain:ntp -j RETURN | -A PREROUTING -p 17 -m udp --source-port 53:123 -j RETURN",
        "-A PREROUTING -p all -j ACCEPT | -A PREROUTING -j ACCEPT",
        "-A PREROUTING -m mark --mark 0x10 -j ACCEPT | -A PREROUTING -m mark --mark 16/0xffffffff -j ACCEPT",
        "-A PREROUTING -j MARK --or-mark 0x4000 | -A PREROUTING -j MARK --set-xmark 0x4000/0x4000",
    })
    void spellingsOfOneRuleParseToEqualRulesApartFromOrigin(String a, String b) {
        Rule first = onlyRule("iptables -t nat " + a);
        Rule second = onlyRule("\n\niptables -t nat " + b);
        assertThat(first.origin()).isNotEqualTo(second.origin());
        assertThat(new Rule(first.chain(), first.source(), first.destination(), first.in(), first.out(),
                first.protocol(), first.matches(), first.target(), second.origin())).isEqualTo(second);
    }

    @Test
    void reportsEveryErrorOfAFileAtItsLineAndKeepsTheGoodRules() {
        LoadResult r = parse("""
                iptables -t nat -A PREROUTING -p tcp --dport 99999 -j ACCEPT
                iptables -t nat -A PREROUTING -p tcp --dport 80 -j ACCEPT
                # a comment

                iptables -t nat -A PREROUTING -j DROP
                iptables -t nat -A PREROUTING -m comment --comment "unbalanced -j ACCEPT
                iptables -t nat -A NOPE -j ACCEPT
                iptables -t nat -A PREROUTING -p udp -j ACCEPT
                """);
        assertThat(r.errors()).extracting(RuleError::toString).containsExactly(
                "t.rules:1: invalid port/service `99999' specified",
                "t.rules:5: The \"nat\" table is not intended for filtering, the use of DROP is therefore inhibited.",
                "t.rules:6: unterminated quoted string",
                "t.rules:7: No chain/target/match by that name.");
        assertThat(r.ruleset().chain("PREROUTING").rules()).extracting(rule -> rule.origin().line())
                .containsExactly(2, 8);
    }

    @Test
    void insertsAtTheGivenPositionAndAtTheTopWithoutOne() {
        LoadResult r = parse("""
                iptables -t nat -A OUTPUT -s 1.0.0.1 -j ACCEPT
                iptables -t nat -A OUTPUT -s 1.0.0.2 -j ACCEPT
                iptables -t nat -I OUTPUT 2 -s 1.0.0.3 -j ACCEPT
                iptables -t nat -I OUTPUT -s 1.0.0.4 -j ACCEPT
                iptables -t nat -I OUTPUT 5 -s 1.0.0.5 -j ACCEPT
                iptables -t nat -I OUTPUT 7 -s 1.0.0.6 -j ACCEPT
                """);
        assertThat(r.errors()).extracting(RuleError::toString).containsExactly("t.rules:6: Index of insertion too big.");
        assertThat(r.ruleset().chain("OUTPUT").rules()).extracting(rule -> rule.source().network().toString())
                .containsExactly("1.0.0.4/32", "1.0.0.1/32", "1.0.0.3/32", "1.0.0.2/32", "1.0.0.5/32");
    }

    @Test
    void refusesTheRuleThatMakesALoopReachableFromABuiltInChain() {
        // Checked against iptables 1.8.9: the loop A -> B -> A is accepted until PREROUTING reaches it.
        LoadResult r = parse("""
                iptables -t nat -N A
                iptables -t nat -N B
                iptables -t nat -A A -j B
                iptables -t nat -A B -j A
                iptables -t nat -A PREROUTING -j A
                iptables -t nat -A PREROUTING -j B
                """);
        assertThat(r.errors()).extracting(RuleError::toString).containsExactly(
                "t.rules:5: RULE_APPEND failed (Too many links): rule in chain PREROUTING",
                "t.rules:6: RULE_APPEND failed (Too many links): rule in chain PREROUTING");
        assertThat(r.ruleset().chain("PREROUTING").rules()).isEmpty();
    }

    @Test
    void refusesASelfJumpInAChainReachableFromAHook() {
        LoadResult r = parse("iptables -t nat -N A\niptables -t nat -A OUTPUT -j A\niptables -t nat -I A -j A\n");
        assertThat(r.errors()).extracting(RuleError::toString)
                .containsExactly("t.rules:3: RULE_INSERT failed (Too many links): rule in chain A");
    }

    @Test
    void skipsOtherTablesWithOneWarning() {
        LoadResult r = parse("""
                iptables -A INPUT -j ACCEPT
                iptables -t filter -A INPUT -j ACCEPT
                sudo iptables -t nat -A OUTPUT -j ACCEPT
                """);
        assertThat(r.errors()).isEmpty();
        assertThat(r.warnings()).hasSize(1);
        assertThat(r.warnings().get(0).toString()).startsWith("t.rules:1: warning: skipped 2 command(s)");
        assertThat(r.ruleset().ruleCount()).isEqualTo(1);
    }

    @Test
    void loadsInterfacesWithoutAWarningNowThatTheyAreEvaluated() {
        LoadResult r = parse("iptables -t nat -A PREROUTING -i eth0 -j ACCEPT\n");
        assertThat(r.errors()).isEmpty();
        assertThat(r.warnings()).isEmpty();
        assertThat(r.ruleset().chains().get(0).rules().get(0).in()).isEqualTo(new InterfaceMatch("eth0", false));
    }

    @Test
    void readsASaveFileSkippingOtherTablesAndCounters() throws IOException {
        LoadResult r = RulesFile.load(RULES.resolve("save-format.rules"));
        assertThat(r.errors()).isEmpty();
        assertThat(r.warnings()).extracting(RuleError::message)
                .containsExactly("warning: skipping table `filter' (nthlb only runs the nat table)");
        assertThat(RulePrinter.listRules(r.ruleset()))
                .isEqualTo(Files.readString(RULES.resolve("expected/save-format.S")));
    }

    @Test
    void reportsASaveFileWithoutCommit() {
        LoadResult r = parse("*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j ACCEPT\n");
        assertThat(r.errors()).extracting(RuleError::toString).containsExactly("t.rules:1: COMMIT expected at line 4");
    }

    /** What iptables-restore 1.8.9 (nf_tables) answered for each chain line, tried in a namespace 2026-11-25. */
    @Test
    void readsChainLinesAsIptablesRestoreDoes() {
        assertThat(parse("*nat\n:\nCOMMIT\n").errors()).extracting(RuleError::toString)
                .containsExactly("t.rules:2: chain name invalid");
        assertThat(parse("*nat\n:FOO\nCOMMIT\n").errors()).extracting(RuleError::toString)
                .containsExactly("t.rules:2: policy invalid");
        assertThat(parse("*nat\n: \"\nCOMMIT\n").errors()).extracting(RuleError::toString)
                .containsExactly("t.rules:2: policy invalid");
        // Accepted by iptables-restore: counters are not checked, and a chain may be called ".
        LoadResult accepted = parse("*nat\n:PREROUTING ACCEPT\n:OUTPUT ACCEPT [x]\n:FOO - [a:b]\n:BAR ACCEPT\n"
                + ":\" - [0:0]\nCOMMIT\n");
        assertThat(accepted.errors()).isEmpty();
        assertThat(RulePrinter.listRules(accepted.ruleset())).endsWith("-N \"\n-N BAR\n-N FOO\n");
    }

    @Test
    void reportsAMissingChainInASaveFileAsIptablesRestoreDoes() {
        LoadResult r = parse("*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j Z\nCOMMIT\n");
        assertThat(r.errors()).extracting(RuleError::toString).containsExactly("t.rules:3: Chain 'Z' does not exist");
    }

    @Test
    void reportsAnUnreadableFileAsAnErrorNotAnException() {
        LoadResult r = RulesFile.load(Path.of("/nonexistent/nthlb.rules"));
        assertThat(r.errors()).extracting(RuleError::toString)
                .containsExactly("/nonexistent/nthlb.rules:0: cannot read rules file: no such file");
    }

    @Test
    void storesProbabilitiesAsIptablesDoes() {
        Rule rule = onlyRule("iptables -t nat -A OUTPUT -m statistic --mode random --probability 0.3333333333");
        assertThat(rule.matches()).containsExactly(new RandomMatch(715827883L, false));
        assertThat(RulePrinter.rule(rule)).endsWith("--probability 0.33333333349");
    }

    @Test
    void refusesLinesThatAreNotIptablesCommands() {
        LoadResult r = parse("echo hello\n");
        assertThat(r.errors()).extracting(RuleError::toString).containsExactly(
                "t.rules:1: not an iptables command: `echo' (expected iptables, iptables-legacy or iptables-nft)");
    }
}
