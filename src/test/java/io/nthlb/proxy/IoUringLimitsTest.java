package io.nthlb.proxy;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.BeforeAll;

/** The limits suite on the io_uring transport. */
class IoUringLimitsTest extends LimitsTestSuite {

    @BeforeAll
    static void transportAvailable() {
        assumeTrue(Transport.IO_URING.isAvailable(), () -> "io_uring unavailable: " + Transport.IO_URING.unavailabilityCause());
    }

    @Override
    Transport transport() {
        return Transport.IO_URING;
    }
}
