package io.nthlb.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.nthlb.Main;
import io.nthlb.admin.AdminAddress;
import io.nthlb.admin.AdminServer;
import io.nthlb.admin.NoSuchChainException;
import io.nthlb.admin.PrometheusMetrics;
import io.nthlb.balancer.ReloadOutcome;
import io.nthlb.admin.TableListing;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@code list}, {@code save} and {@code reload} against an admin endpoint on loopback. */
class AdminCommandsTest {

    private final AtomicReference<ReloadOutcome> nextReload = new AtomicReference<>();
    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();
    private AdminServer server;

    @BeforeEach
    void start() throws Exception {
        TableListing listing = new TableListing() {
            @Override
            public String list(String chain, boolean exact) {
                if (chain != null && !chain.equals("PREROUTING")) {
                    throw new NoSuchChainException(chain);
                }
                return "Chain PREROUTING (policy ACCEPT 0 packets, 0 bytes)\n" + (exact ? "exact\n" : "");
            }

            @Override
            public String save(boolean counters) {
                return counters ? ":PREROUTING ACCEPT [0:0]\n" : ":PREROUTING ACCEPT\n";
            }
        };
        server = AdminServer.start(AdminAddress.parse("127.0.0.1:0"), false, listing, nextReload::get,
                new PrometheusMetrics().registry(), () -> java.util.List.of());
    }

    @AfterEach
    void stop() {
        server.close();
    }

    @Test
    void listPrintsTheListingAsServed() {
        assertThat(run("list", "--admin", server.address().authority(), "-x", "PREROUTING")).isZero();
        assertThat(out).hasToString("Chain PREROUTING (policy ACCEPT 0 packets, 0 bytes)\nexact\n");
        assertThat(err.toString()).isEmpty();
    }

    @Test
    void listOfAnUnknownChainFailsInIptablesWords() {
        assertThat(run("list", "--admin", server.address().authority(), "NOSUCH")).isEqualTo(1);
        assertThat(out.toString()).isEmpty();
        assertThat(err).hasToString("iptables: No chain/target/match by that name.\n");
    }

    @Test
    void saveWithCAsksForCounters() {
        assertThat(run("save", "--admin", server.address().authority(), "-c")).isZero();
        assertThat(out).hasToString(":PREROUTING ACCEPT [0:0]\n");
        out.getBuffer().setLength(0);
        assertThat(run("save", "--admin", server.address().authority())).isZero();
        assertThat(out).hasToString(":PREROUTING ACCEPT\n");
    }

    @Test
    void reloadExitsZeroWhenAppliedAndTwoWithTheErrorsWhenRejected() {
        nextReload.set(ReloadOutcome.applied("reloaded r.rules"));
        assertThat(run("reload", "--admin", server.address().authority())).isZero();
        assertThat(out).hasToString("reloaded r.rules\n");

        nextReload.set(ReloadOutcome.rejected(List.of("r.rules:2: Bad mode \"nope\"")));
        assertThat(run("reload", "--admin", server.address().authority())).isEqualTo(2);
        assertThat(err).hasToString("r.rules:2: Bad mode \"nope\"\n");

        err.getBuffer().setLength(0);
        nextReload.set(ReloadOutcome.failed("cannot listen on 127.0.0.1:80: Address already in use"));
        assertThat(run("reload", "--admin", server.address().authority())).isEqualTo(1);
        assertThat(err).hasToString("cannot listen on 127.0.0.1:80: Address already in use\n");
    }

    @Test
    void noEndpointIsExitOneWithWhereItLooked() throws Exception {
        int port;
        try (ServerSocket probe = new ServerSocket(0)) {
            port = probe.getLocalPort();
        }
        assertThat(run("list", "--admin", "127.0.0.1:" + port)).isEqualTo(1);
        assertThat(err.toString()).startsWith("nthlb list: no admin endpoint at 127.0.0.1:" + port);
    }

    @Test
    void aBadAdminAddressIsAUsageError() {
        assertThat(run("save", "--admin", "nowhere")).isEqualTo(2);
        assertThat(err.toString()).contains("admin address \"nowhere\": expected HOST:PORT");
    }

    @Test
    void theDefaultAddressIsLoopback9180() {
        CommandLine list = Main.commandLine().getSubcommands().get("list");
        assertThat(list.getCommandSpec().findOption("--admin").defaultValue()).isEqualTo("127.0.0.1:9180");
    }

    private int run(String... args) {
        CommandLine cli = Main.commandLine();
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        return cli.execute(args);
    }
}
