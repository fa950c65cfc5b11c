package io.nthlb.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import java.net.Socket;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.net.InetAddress;
import java.net.InetSocketAddress;
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
        SocketChannel channel = transport.newSocketChannel(new InetSocketAddress(InetAddress.getLoopbackAddress(), 1));
        try {
            assertThat(channel.config().isTcpNoDelay()).isTrue();
        } finally {
            channel.unsafe().closeForcibly();
        }
    }

    /** The listeners rely on this instead of setting SO_KEEPALIVE on every accepted connection. */
    @Test
    void epollChannelsAcceptedByAListenerWithTheKeepAliveOptionHaveKeepAliveOn() throws Exception {
        Transport epoll = Transport.EPOLL;
        if (!epoll.isAvailable()) {
            return;
        }
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, epoll.ioHandlerFactory());
        try {
            CompletableFuture<Boolean> keepAlive = new CompletableFuture<>();
            Channel listener = new ServerBootstrap().group(group).channelFactory(epoll.serverChannelFactory())
                    .option(epoll.inheritedKeepAliveOption(), 1)
                    .childHandler(new ChannelInboundHandlerAdapter() {
                        @Override
                        public void channelActive(ChannelHandlerContext ctx) {
                            keepAlive.complete(((SocketChannel) ctx.channel()).config().isKeepAlive());
                            ctx.close();
                        }
                    })
                    .bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)).sync().channel();
            try (Socket client = new Socket(InetAddress.getLoopbackAddress(), ((InetSocketAddress) listener.localAddress()).getPort())) {
                assertThat(keepAlive.get(30, TimeUnit.SECONDS)).isTrue();
            }
            listener.close().sync();
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
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
