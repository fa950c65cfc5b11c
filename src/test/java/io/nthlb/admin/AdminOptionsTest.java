package io.nthlb.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class AdminOptionsTest {

    @CommandLine.Command(name = "run")
    static final class Run {
        @CommandLine.Mixin
        AdminOptions admin;
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
