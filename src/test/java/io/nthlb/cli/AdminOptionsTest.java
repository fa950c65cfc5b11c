package io.nthlb.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.concurrent.Callable;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class AdminOptionsTest {

    @CommandLine.Command(name = "run")
    static final class Run {
        @CommandLine.Mixin
        AdminOptions admin;
    }

    /** A command that checks the address when it runs, as {@code run} does before it opens anything. */
    @CommandLine.Command(name = "run")
    static final class Checking implements Callable<Integer> {
        @CommandLine.Mixin
        AdminOptions admin;

        @Override
        public Integer call() {
            admin.address();
            return 0;
        }
    }

    private static AdminOptions parse(String... args) {
        Run run = new Run();
        new CommandLine(run).parseArgs(args);
        return run.admin;
    }

    @Test
    void listensOnLoopback9180ByDefault() {
        assertThat(parse().address().authority()).isEqualTo("127.0.0.1:9180");
    }

    @Test
    void offTurnsTheEndpointOff() {
        assertThat(parse("--admin", "off").address()).isNull();
    }

    @Test
    void aNonLoopbackAddressIsAUsageErrorWithoutAllowRemote() {
        AdminOptions options = parse("--admin", "0.0.0.0:9180");
        assertThatThrownBy(options::address)
                .isInstanceOf(CommandLine.ParameterException.class)
                .hasMessageContaining("0.0.0.0:9180 is not a loopback address")
                .hasMessageContaining("--admin-allow-remote");
    }

    @Test
    void aRefusedAddressFoundWhileRunningIsAUsageErrorExitingTwo() {
        StringWriter err = new StringWriter();
        CommandLine cli = new CommandLine(new Checking());
        cli.setErr(new PrintWriter(err, true));

        assertThat(cli.execute("--admin", "0.0.0.0:9180")).isEqualTo(2);
        assertThat(err.toString()).startsWith("--admin: admin address 0.0.0.0:9180 is not a loopback address");
    }

    @Test
    void allowRemoteLetsANonLoopbackAddressThrough() {
        assertThat(parse("--admin", "0.0.0.0:9180", "--admin-allow-remote").address().authority())
                .isEqualTo("0.0.0.0:9180");
    }

    @Test
    void aMalformedAddressIsAUsageErrorQuotingIt() {
        AdminOptions options = parse("--admin", "9180");
        assertThatThrownBy(options::address)
                .isInstanceOf(CommandLine.ParameterException.class)
                .hasMessage("--admin: admin address \"9180\": expected HOST:PORT");
    }
}
