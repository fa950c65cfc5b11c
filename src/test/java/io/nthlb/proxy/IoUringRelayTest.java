package io.nthlb.proxy;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Disabled;

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
     * Known defect, seen in about one run in three on Netty 4.2.18 with this kernel: a reset from the backend
     * that arrives while nthlb has nothing queued for it is not reported by the io_uring channel until the next
     * write to it, so the client is reset only then. Epoll and NIO pass this test every time; io_uring stays
     * opt-in until this is understood.
     */
    @Override
    @Disabled("io_uring reports a backend reset only on the next write; see the Javadoc")
    void backendResetMidStreamResetsTheClient() {
    }
}
