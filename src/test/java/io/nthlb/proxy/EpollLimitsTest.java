package io.nthlb.proxy;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.BeforeAll;

/** The limits suite on the epoll transport. */
class EpollLimitsTest extends LimitsTestSuite {

    @BeforeAll
    static void transportAvailable() {
        assumeTrue(Transport.EPOLL.isAvailable(), () -> "epoll unavailable: " + Transport.EPOLL.unavailabilityCause());
    }

    @Override
    Transport transport() {
        return Transport.EPOLL;
    }
}
