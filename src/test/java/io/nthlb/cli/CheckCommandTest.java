package io.nthlb.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.nthlb.Main;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class CheckCommandTest {
    @TempDir
    Path dir;

    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int check(String... args) {
        CommandLine cl = Main.commandLine();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        String[] all = new String[args.length + 1];
        all[0] = "check";
        System.arraycopy(args, 0, all, 1, args.length);
        return cl.execute(all);
    }

    @Test
    void printsTheNormalisedTableAndExitsZeroForAValidFile() {
        int status = check("src/test/resources/rules/seed.rules");
        assertThat(status).isZero();
        assertThat(out.toString()).startsWith("-P PREROUTING ACCEPT\n").contains(
                "-A PREROUTING -d 10.0.1.200/32 -p tcp -m tcp --dport 80 -m statistic --mode nth --every 2 --packet 0"
                        + " -j DNAT --to-destination 172.16.1.201:80\n");
        assertThat(err.toString()).isEmpty();
    }

    @Test
    void printsEveryErrorWithFileAndLineAndExitsTwo() throws IOException {
        Path file = dir.resolve("bad.rules");
        Files.writeString(file, "iptables -t nat -A PREROUTING -m statistic --mode nth --every 0 --packet 0 -j ACCEPT\n"
                + "iptables -t nat -A PREROUTING -j ACCEPT\n"
                + "iptables -t nat -A PREROUTING -j NOSUCHCHAIN\n");
        int status = check(file.toString());
        assertThat(status).isEqualTo(2);
        assertThat(out.toString()).isEmpty();
        assertThat(err.toString()).isEqualTo(file + ":1: statistic: bad value for option \"--every\", or out of range"
                + " (1-4294967295).\n" + file + ":3: Chain 'NOSUCHCHAIN' does not exist\n");
    }

    @Test
    void writesWarningsToStderrOnly() throws IOException {
        Path file = dir.resolve("filter.rules");
        Files.writeString(file, "iptables -A INPUT -j ACCEPT\niptables -t nat -A OUTPUT -j ACCEPT\n");
        assertThat(check(file.toString())).isZero();
        assertThat(out.toString()).endsWith("-A OUTPUT -j ACCEPT\n");
        assertThat(err.toString()).startsWith(file + ":1: warning: skipped 1 command(s)");
    }

    @Test
    void exitsTwoWithAClearMessageForAMissingFile() {
        assertThat(check(dir.resolve("missing.rules").toString())).isEqualTo(2);
        assertThat(err.toString()).contains("missing.rules:0: cannot read rules file: no such file");
    }

    @Test
    void explainsItselfWithHelp() {
        assertThat(check("--help")).isZero();
        assertThat(out.toString()).contains("Usage: nthlb check").contains("FILE");
    }

    /** The corpus of real-shaped tables: {@code check} prints what {@code iptables -t nat -S} printed for them. */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"docker-host", "docker-bridge-network",
        "kube-proxy-services", "libvirt-default"})
    void printsTheNatTableOfARealHostAsIptablesDid(String name) throws IOException {
        int status = check("src/test/resources/rules/" + name + ".rules");
        assertThat(status).isZero();
        assertThat(out.toString()).isEqualTo(Files.readString(Path.of("src/test/resources/rules/expected/" + name + ".S")));
        assertThat(err.toString()).doesNotContain("error").doesNotContain("Couldn't");
    }
}
