package io.nthlb.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.nthlb.Main;
import io.nthlb.nat.NatTable;
import io.nthlb.nat.RandomSource;
import io.nthlb.rules.AddressMatch;
import io.nthlb.rules.Chain;
import io.nthlb.rules.Cidr;
import io.nthlb.rules.DnatTarget;
import io.nthlb.rules.JumpTarget;
import io.nthlb.rules.Match;
import io.nthlb.rules.NthMatch;
import io.nthlb.rules.Origin;
import io.nthlb.rules.PortMatch;
import io.nthlb.rules.PortRange;
import io.nthlb.rules.ProtocolMatch;
import io.nthlb.rules.RandomMatch;
import io.nthlb.rules.Rule;
import io.nthlb.rules.Ruleset;
import io.nthlb.rules.Target;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class SimulateCommandTest {

    private static final ProtocolMatch TCP = new ProtocolMatch(ProtocolMatch.TCP, false);

    private static Rule rule(String chain, AddressMatch destination, List<Match> matches, Target target, int line) {
        return new Rule(chain, AddressMatch.ANY, destination, null, null, TCP, matches, target,
                new Origin("seed.rules", line));
    }

    private static DnatTarget dnat(String ip, int port) {
        int address = Endpoint.parse(ip).address();
        return new DnatTarget(address, address, PortRange.of(port), false, false);
    }

    private static Ruleset table(List<Rule> prerouting, Chain... user) {
        List<Chain> chains = new ArrayList<>();
        chains.add(new Chain("PREROUTING", "ACCEPT", prerouting));
        for (String name : List.of("INPUT", "OUTPUT", "POSTROUTING")) {
            chains.add(new Chain(name, "ACCEPT", List.of()));
        }
        chains.addAll(List.of(user));
        return new Ruleset(chains);
    }

    /** conf/seed.rules, as the parser will give it. */
    private static Ruleset seed() {
        AddressMatch vip = new AddressMatch(new Cidr(Endpoint.parse("10.0.1.200").address(), 32), false);
        PortMatch port80 = new PortMatch("tcp", PortRange.ALL, false, PortRange.of(80), false);
        return table(List.of(
                rule("PREROUTING", vip, List.of(port80, new NthMatch(2, 0, false)), dnat("172.16.1.201", 80), 3),
                rule("PREROUTING", vip, List.of(port80, new NthMatch(1, 0, false)), dnat("172.16.1.202", 80), 4)));
    }

    private static List<String> simulate(Ruleset rules, String destination, int n) {
        return SimulateCommand.simulate(NatTable.compile(rules), null, Endpoint.parse("192.0.2.1").address(),
                SimulateCommand.DEFAULT_SOURCE_PORT, Endpoint.parse(destination), n);
    }

    @Test
    void seedAlternatesBetweenItsTwoBackends() {
        assertThat(simulate(seed(), "10.0.1.200:80", 4))
                .containsExactly("172.16.1.201:80", "172.16.1.202:80", "172.16.1.201:80", "172.16.1.202:80");
    }

    @Test
    void connectionNoRuleNatsPrintsThePolicy() {
        assertThat(simulate(seed(), "10.0.1.200:443", 2)).containsExactly("ACCEPT", "ACCEPT");
    }

    @Test
    void seedWithCDownSendsEveryConnectionToBAndSaysWhatItSkipped() {
        List<String> lines = SimulateCommand.simulate(NatTable.compile(seed()), null, Endpoint.parse("192.0.2.1").address(),
                SimulateCommand.DEFAULT_SOURCE_PORT, Endpoint.parse("10.0.1.200:80"), 3,
                Set.of(Endpoint.parse("172.16.1.202:80").toSocketAddress()));
        assertThat(lines).containsExactly("172.16.1.201:80", "172.16.1.201:80 (skipped 172.16.1.202:80, down)",
                "172.16.1.201:80 (skipped 172.16.1.202:80, down)");
    }

    @Test
    void downOptionRepeatsAndEveryBackendDownIsTheKernelsOrder(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("seed.rules");
        Files.writeString(file, """
                iptables -t nat -A PREROUTING -d 10.0.1.200 -p tcp --dport 80 -m statistic --mode nth --every 2 --packet 0 -j DNAT --to-destination 172.16.1.201:80
                iptables -t nat -A PREROUTING -d 10.0.1.200 -p tcp --dport 80 -m statistic --mode nth --every 1 --packet 0 -j DNAT --to-destination 172.16.1.202:80
                """);
        Run run = run("simulate", file.toString(), "--dst", "10.0.1.200:80", "-n", "2", "--down", "172.16.1.202:80",
                "--down", "172.16.1.201:80");
        assertThat(run.exitCode()).isZero();
        assertThat(run.out()).isEqualTo("172.16.1.201:80 (every backend down: tried as the kernel would)\n"
                + "172.16.1.202:80 (every backend down: tried as the kernel would)\n");
    }

    @Test
    void downWithoutAPortIsAUsageError(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("seed.rules");
        Files.writeString(file, "iptables -t nat -A PREROUTING -p tcp --dport 80 -j DNAT --to-destination 10.1.0.1\n");
        Run run = run("simulate", file.toString(), "--dst", "10.0.1.200:80", "--down", "10.1.0.1");
        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.err()).contains("--down: 10.1.0.1 (expected: IP:PORT, the backend's address and port)");
    }

    @Test
    void sourcePortStartsAtTheEphemeralRangeAndGoesUpByOne() {
        PortMatch fromSecondPort = new PortMatch("tcp", PortRange.of(SimulateCommand.DEFAULT_SOURCE_PORT + 1), false,
                PortRange.ALL, false);
        Ruleset rules = table(List.of(
                rule("PREROUTING", AddressMatch.ANY, List.of(fromSecondPort), dnat("10.1.0.2", 80), 1),
                rule("PREROUTING", AddressMatch.ANY, List.of(), dnat("10.1.0.1", 80), 2)));
        assertThat(simulate(rules, "10.0.0.1:80", 3)).containsExactly("10.1.0.1:80", "10.1.0.2:80", "10.1.0.1:80");
    }

    @Test
    void sourcePortWrapsToTheStartOfTheEphemeralRange() {
        PortMatch fromFirstPort = new PortMatch("tcp", PortRange.of(SimulateCommand.DEFAULT_SOURCE_PORT), false,
                PortRange.ALL, false);
        Ruleset rules = table(List.of(
                rule("PREROUTING", AddressMatch.ANY, List.of(fromFirstPort), dnat("10.1.0.2", 80), 1)));
        List<String> lines = SimulateCommand.simulate(NatTable.compile(rules), null, 1, SimulateCommand.LAST_EPHEMERAL_PORT,
                Endpoint.parse("10.0.0.1:80"), 2);
        assertThat(lines).containsExactly("ACCEPT", "10.1.0.2:80");
    }

    @Test
    void sameSeedGivesTheSameRandomChoices() {
        List<Rule> svc = List.of(
                rule("SVC", AddressMatch.ANY, List.of(new RandomMatch(715827883L, false)), dnat("10.2.0.1", 80), 2),
                rule("SVC", AddressMatch.ANY, List.of(new RandomMatch(1073741824L, false)), dnat("10.2.0.2", 80), 3),
                rule("SVC", AddressMatch.ANY, List.of(), dnat("10.2.0.3", 80), 4));
        Ruleset rules = table(List.of(rule("PREROUTING", AddressMatch.ANY, List.of(), new JumpTarget("SVC", false), 1)),
                new Chain("SVC", null, svc));
        Endpoint vip = Endpoint.parse("10.0.0.1:80");
        List<String> first = SimulateCommand.simulate(NatTable.compile(rules, null, RandomSource.seeded(7)), null, 1, 40000, vip, 60);
        List<String> second = SimulateCommand.simulate(NatTable.compile(rules, null, RandomSource.seeded(7)), null, 1, 40000, vip, 60);
        assertThat(first).isEqualTo(second).contains("10.2.0.1:80", "10.2.0.2:80", "10.2.0.3:80");
    }

    private record Run(int exitCode, String out, String err) {
    }

    private static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = Main.commandLine();
        cli.setOut(new PrintWriter(out));
        cli.setErr(new PrintWriter(err));
        int code = cli.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void badDestinationIsAUsageError(@TempDir Path dir) {
        Run run = run("simulate", dir.resolve("x.rules").toString(), "--dst", "10.0.1:80");
        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.err()).contains("10.0.1:80 (expected: IPv4 address, A.B.C.D[:PORT])");
    }

    @Test
    void portOutOfRangeIsAUsageError(@TempDir Path dir) {
        Run run = run("simulate", dir.resolve("x.rules").toString(), "--dst", "10.0.1.1:65536");
        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.err()).contains("10.0.1.1:65536 (expected: port 0-65535)");
    }

    @Test
    void missingDestinationIsAUsageError(@TempDir Path dir) {
        Run run = run("simulate", dir.resolve("x.rules").toString());
        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.err()).contains("Missing required option: '--dst=IP:PORT'");
    }

    @Test
    void negativeCountIsAUsageError(@TempDir Path dir) {
        Run run = run("simulate", dir.resolve("x.rules").toString(), "--dst", "10.0.1.1:80", "-n", "-1");
        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.err()).contains("-n: -1 (expected: >= 0)");
    }

    @Test
    void fileThatCannotBeUsedExitsTwoWithItsNameOnStderr(@TempDir Path dir) {
        String file = dir.resolve("x.rules").toString();
        Run run = run("simulate", file, "--dst", "10.0.1.200:80");
        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.out()).isEmpty();
        assertThat(run.err()).startsWith(file + ":");
    }

    @Test
    void seedFileAlternatesBetweenItsTwoBackends() {
        Run run = run("simulate", "conf/seed.rules", "--dst", "10.0.1.200:80", "-n", "4");
        assertThat(run.exitCode()).isEqualTo(0);
        assertThat(run.err()).isEmpty();
        assertThat(run.out().lines()).containsExactly(
                "172.16.1.201:80", "172.16.1.202:80", "172.16.1.201:80", "172.16.1.202:80");
    }

    @Test
    void udpFlowsAreDecidedByTheUdpRulesOnly(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("dns.rules");
        java.nio.file.Files.writeString(file, ""
                + "iptables -t nat -A PREROUTING -d 10.0.1.200 -p udp --dport 53 -m statistic --mode nth --every 2 --packet 0 -j DNAT --to-destination 172.16.1.201:53\n"
                + "iptables -t nat -A PREROUTING -d 10.0.1.200 -p udp --dport 53 -j DNAT --to-destination 172.16.1.202:53\n"
                + "iptables -t nat -A PREROUTING -d 10.0.1.200 -p tcp --dport 53 -j DNAT --to-destination 172.16.1.203:53\n");

        Run udp = run("simulate", file.toString(), "--dst", "10.0.1.200:53", "--proto", "udp", "-n", "4");
        Run udpShort = run("simulate", file.toString(), "--dst", "10.0.1.200:53", "--udp", "-n", "2");
        Run tcp = run("simulate", file.toString(), "--dst", "10.0.1.200:53", "-n", "2");

        assertThat(udp.exitCode()).isZero();
        assertThat(udp.out().lines()).containsExactly(
                "172.16.1.201:53", "172.16.1.202:53", "172.16.1.201:53", "172.16.1.202:53");
        assertThat(udpShort.out().lines()).containsExactly("172.16.1.201:53", "172.16.1.202:53");
        assertThat(tcp.out().lines()).containsExactly("172.16.1.203:53", "172.16.1.203:53");
    }

    @Test
    void unknownProtocolIsAUsageError(@TempDir Path dir) {
        Run run = run("simulate", dir.resolve("x.rules").toString(), "--dst", "10.0.1.1:80", "--proto", "sctp");
        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.err()).contains("--proto: sctp (expected: tcp or udp)");
    }

    @Test
    void badRuleExitsTwoWithIptablesWordsAndTheLine(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("bad.rules");
        java.nio.file.Files.writeString(file, "# one good rule, one bad\n"
                + "iptables -t nat -A PREROUTING -d 10.0.1.200 -p tcp --dport 80 -j DNAT --to-destination 172.16.1.201:80\n"
                + "iptables -t nat -A PREROUTING -d 10.0.1.200 -p tcp --dport 80 -m statistic --mode nth --every 0 -j ACCEPT\n");
        Run run = run("simulate", file.toString(), "--dst", "10.0.1.200:80");
        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.out()).isEmpty();
        assertThat(run.err()).contains(file + ":3: statistic: bad value for option \"--every\", or out of range (1-4294967295).");
    }

    private static final String DOCKER_HOST = "src/test/resources/rules/docker-host.rules";

    @Test
    void dockerHostSendsAnOutsideConnectionToThePublishedContainer() {
        Run run = run("simulate", DOCKER_HOST, "--dst", "203.0.113.5:8080", "--src", "198.51.100.7",
                "--in-interface", "eth0", "-n", "2");
        assertThat(run.exitCode()).isZero();
        assertThat(run.out().lines()).containsExactly("172.17.0.2:80", "172.17.0.2:80");
        // Without --in-interface the connection arrives on an interface no rule names: not docker0.
        assertThat(run("simulate", DOCKER_HOST, "--dst", "203.0.113.5:8443").out().lines())
                .containsExactly("172.17.0.3:443");
    }

    @Test
    void dockerHostSendsAConnectionFromTheBridgeNowhere() {
        Run run = run("simulate", DOCKER_HOST, "--dst", "172.17.0.1:8080", "--src", "172.17.0.5",
                "--in-interface", "docker0");
        assertThat(run.exitCode()).isZero();
        assertThat(run.out().lines()).containsExactly("ACCEPT");
    }

    @Test
    void dockerHostPublishesTheLoopbackOnlyPortOnLoopbackAndToNoOneElse() {
        assertThat(run("simulate", DOCKER_HOST, "--dst", "127.0.0.1:5432").out().lines())
                .containsExactly("172.17.0.4:5432");
        assertThat(run("simulate", DOCKER_HOST, "--dst", "203.0.113.5:5432").out().lines())
                .containsExactly("ACCEPT");
    }

    @Test
    void dstNotLocalFailsDockersAddrtypeTest() {
        Run run = run("simulate", DOCKER_HOST, "--dst", "203.0.113.5:8080", "--dst-not-local");
        assertThat(run.out().lines()).containsExactly("ACCEPT");
    }

    @Test
    void kubeProxyAffinityKeepsOneClientOnOneEndpointForSixConnections() {
        for (String seed : List.of("1", "2", "3", "4")) {
            Run run = run("simulate", "src/test/resources/rules/kube-proxy-services.rules", "--dst", "10.96.56.78:8080",
                    "--src", "192.0.2.44", "-n", "6", "--seed", seed);
            assertThat(run.exitCode()).isZero();
            List<String> lines = run.out().lines().toList();
            assertThat(lines).hasSize(6).containsOnly(lines.get(0));
            assertThat(lines.get(0)).isIn("10.244.1.8:8080", "10.244.2.9:8080");
        }
    }
}
