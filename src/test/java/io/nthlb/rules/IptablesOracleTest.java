package io.nthlb.rules;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Loads each valid test rules file into a fresh network namespace with the real iptables and compares
 * what it prints ({@code -S} and {@code -nvL} with zero counters) with nthlb's printers. Skipped, with the
 * reason, where there is no iptables, no {@code ip netns} or no root.
 */
class IptablesOracleTest {
    private static final Path RULES = Path.of("src/test/resources/rules");
    private static final AtomicInteger NAMESPACES = new AtomicInteger();
    /** A -nvL rule line: counters, target, the protocol as a number, then the rest from the opt column. */
    private static final Pattern PROTOCOL_COLUMN = Pattern.compile("^(.{12})(\\S*) +?( |!)(\\d+) +(--  .*)$");
    private static String unavailable;

    @BeforeAll
    static void findIptables() {
        if (!"root".equals(System.getProperty("user.name"))) {
            unavailable = "not root: cannot create network namespaces";
        } else if (!Files.isExecutable(Path.of("/usr/sbin/iptables")) || !Files.isExecutable(Path.of("/usr/sbin/ip"))
                && !Files.isExecutable(Path.of("/sbin/ip"))) {
            unavailable = "no /usr/sbin/iptables or ip: the real iptables is not installed";
        }
    }

    static Stream<String> validFiles() throws IOException {
        try (Stream<Path> files = Files.list(RULES)) {
            return files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".rules")).sorted().toList().stream();
        }
    }

    @ParameterizedTest
    @MethodSource("validFiles")
    void nthlbPrintsWhatRealIptablesPrints(String name) throws Exception {
        if (unavailable != null) {
            System.out.println("IptablesOracleTest skipped: " + unavailable);
        }
        assumeTrue(unavailable == null, () -> "skipped: " + unavailable);
        Path file = RULES.resolve(name);
        LoadResult ours = RulesFile.load(file);
        assertThat(ours.errors()).as("nthlb errors for %s", name).isEmpty();

        String ns = "nthlb-rt-" + ProcessHandle.current().pid() + "-" + NAMESPACES.incrementAndGet();
        Output created = run(null, List.of("ip", "netns", "add", ns));
        assumeTrue(created.status == 0, () -> "skipped: cannot create a network namespace: " + created.text);
        try {
            load(ns, file);
            String realRules = run(null, List.of("ip", "netns", "exec", ns, "iptables", "-t", "nat", "-S")).text;
            String realList = run(null, List.of("ip", "netns", "exec", ns, "iptables", "-t", "nat", "-nvL")).text;
            String ourList = RulePrinter.list(ours.ruleset(), CounterView.ZERO, false, null);
            // Both sides are kept under target/ so a difference can be read with diff(1).
            Path kept = Files.createDirectories(Path.of("target/oracle"));
            Files.writeString(kept.resolve(name + ".real"), realRules + protocolNames(realList));
            Files.writeString(kept.resolve(name + ".nthlb"), RulePrinter.listRules(ours.ruleset()) + ourList);
            assertThat(RulePrinter.listRules(ours.ruleset())).isEqualTo(realRules);
            assertThat(ourList).isEqualTo(protocolNames(realList));
        } finally {
            run(null, List.of("ip", "netns", "del", ns));
        }
    }

    private static void load(String ns, Path file) throws Exception {
        String text = Files.readString(file, StandardCharsets.UTF_8);
        if (text.lines().anyMatch(l -> l.startsWith("*"))) {
            Output restored = run(text, List.of("ip", "netns", "exec", ns, "iptables-restore"));
            assertThat(restored.status).as("iptables-restore: %s", restored.text).isZero();
            return;
        }
        for (String line : text.lines().toList()) {
            List<String> words = ShellWords.split(line);
            if (words.isEmpty()) {
                continue;
            }
            if (words.get(0).equals("sudo")) {
                words = words.subList(1, words.size());
            }
            List<String> command = new ArrayList<>(List.of("ip", "netns", "exec", ns, "iptables"));
            command.addAll(words.subList(1, words.size()));
            Output out = run(null, command);
            assertThat(out.status).as("%s: %s", line, out.text).isZero();
        }
    }

    /**
     * This iptables (nf_tables) prints the protocol column as a number; docs/semantics.md has nthlb print the
     * name, as iptables 1.8 before nf_tables did, so the real output is turned into names before comparing.
     */
    static String protocolNames(String real) {
        StringBuilder sb = new StringBuilder();
        for (String line : real.split("\n", -1)) {
            Matcher m = PROTOCOL_COLUMN.matcher(line);
            if (!line.startsWith("Chain ") && m.matches()) {
                String protocol = RulePrinter.protocolName(Integer.parseInt(m.group(4)));
                line = m.group(1) + String.format(Locale.ROOT, "%-9s %s%-4s ", m.group(2), m.group(3), protocol)
                        + m.group(5);
            }
            sb.append(line).append('\n');
        }
        return sb.substring(0, sb.length() - 1);
    }

    private record Output(int status, String text) {
    }

    private static Output run(String input, List<String> command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        if (input != null) {
            p.getOutputStream().write(input.getBytes(StandardCharsets.UTF_8));
        }
        p.getOutputStream().close();
        String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        return new Output(p.waitFor(), text);
    }
}
