package io.nthlb.testing;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.unix.RawUnixChannelOption;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A backend on 127.0.0.1 port 0 (epoll) that reads one connection until it has a given number of bytes, then reports
 * them with the number of TCP segments carrying data that the kernel received for them (TCP_INFO's
 * {@code tcpi_data_segs_in}): a sender that wrote them in one call shows one segment, two calls two, however the
 * receiver's reads happen to split them.
 */
public final class SegmentCountingBackend implements AutoCloseable {

    /** getsockopt(IPPROTO_TCP, TCP_INFO): Linux's numbers; 160 bytes reach tcpi_data_segs_in. */
    private static final RawUnixChannelOption TCP_INFO = new RawUnixChannelOption("TCP_INFO", 6, 11, 160);
    /** Offsets in struct tcp_info (linux/tcp.h). */
    private static final int TCPI_BYTES_RECEIVED = 128;
    private static final int TCPI_DATA_SEGS_IN = 152;

    /** What the connection brought: its bytes, and the kernel's counts of them. */
    public record Received(byte[] bytes, long bytesReceived, int dataSegments) {
        public String hex() {
            return ByteBufUtil.hexDump(bytes);
        }
    }

    private final EventLoopGroup loop = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    private final Channel server;
    private final CompletableFuture<Received> received = new CompletableFuture<>();

    public SegmentCountingBackend(int expected) throws InterruptedException {
        server = new ServerBootstrap().group(loop).channel(EpollServerSocketChannel.class)
                .childHandler(new ChannelInboundHandlerAdapter() {
                    private final ByteBuf got = Unpooled.buffer();

                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        ByteBuf buf = (ByteBuf) msg;
                        got.writeBytes(buf);
                        buf.release();
                        if (got.readableBytes() >= expected && !received.isDone()) {
                            ByteBuffer info = ctx.channel().config().getOption(TCP_INFO).order(ByteOrder.nativeOrder());
                            received.complete(new Received(ByteBufUtil.getBytes(got), info.getLong(TCPI_BYTES_RECEIVED),
                                    info.getInt(TCPI_DATA_SEGS_IN)));
                            ctx.close();
                        }
                    }
                })
                .bind(InetAddress.getLoopbackAddress(), 0).sync().channel();
    }

    public InetSocketAddress address() {
        return (InetSocketAddress) server.localAddress();
    }

    /** The first connection's bytes and counts, once it has sent the expected number of bytes. */
    public Received received() throws Exception {
        return received.get(30, TimeUnit.SECONDS);
    }

    @Override
    public void close() {
        server.close();
        loop.shutdownGracefully(0, 0, TimeUnit.SECONDS);
    }
}
