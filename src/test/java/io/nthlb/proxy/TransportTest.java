package io.nthlb.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.channel.socket.SocketChannel;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

class TransportTest {

    /** The relay relies on this instead of setting TCP_NODELAY itself on every connection. */
    @ParameterizedTest
    @EnumSource(Transport.class)
    void newSocketChannelsHaveTcpNoDelayOn(Transport transport) {
        if (!transport.isAvailable()) {
            return;
        }
        SocketChannel channel = transport.socketChannelFactory().newChannel();
        try {
            assertThat(channel.config().isTcpNoDelay()).isTrue();
        } finally {
            channel.unsafe().closeForcibly();
        }
    }

    @Test
    void namesAreWhatUsersType() {
        assertThat(Transport.forLabel("epoll")).isEqualTo(Transport.EPOLL);
        assertThat(Transport.forLabel("io_uring")).isEqualTo(Transport.IO_URING);
        assertThat(Transport.forLabel("NIO")).isEqualTo(Transport.NIO);
        assertThatThrownBy(() -> Transport.forLabel("kqueue"))
                .hasMessage("transport: kqueue (expected: epoll, nio or io_uring)");
    }

    @Test
    void nioIsAlwaysAvailableAndResolvesToItself() {
        assertThat(Transport.NIO.isAvailable()).isTrue();
        assertThat(Transport.NIO.unavailabilityCause()).isNull();
        assertThat(Transport.resolve(Transport.NIO)).isEqualTo(Transport.NIO);
    }
}
