package io.nthlb.proxy;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * TCP connect checks: opens a connection to a backend and closes it as soon as it is established, on a thread
 * of its own, so that checking never runs on (or waits for) the data plane's event loops. NIO is enough for a
 * few connections a second, and is there on every platform.
 */
public final class ConnectCheck implements AutoCloseable {

    private final EventLoopGroup group;
    private final Bootstrap bootstrap;

    private ConnectCheck(EventLoopGroup group) {
        this.group = group;
        this.bootstrap = new Bootstrap().group(group).channel(NioSocketChannel.class)
                .handler(new Ignore());
    }

    /** Starts the thread that makes the checks and runs their timers. */
    public static ConnectCheck start() {
        return new ConnectCheck(new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("nthlb-health", true),
                NioIoHandler.newFactory()));
    }

    /** The check thread, for scheduling checks on it. */
    public ScheduledExecutorService scheduler() {
        return group;
    }

    /**
     * Connects to {@code backend} and closes the connection once established; {@code done} hears {@code null}
     * then, or how the connect failed (refused, unreachable, or timeout after {@code timeout}). {@code done}
     * runs on the check thread.
     */
    public void check(InetSocketAddress backend, Duration timeout, Consumer<Ending> done) {
        ChannelFuture connect;
        try {
            connect = bootstrap.clone()
                    .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE, timeout.toMillis()))
                    .connect(backend);
        } catch (RuntimeException e) {
            done.accept(RelayBase.connectFailure(e));
            return;
        }
        connect.addListener((ChannelFuture f) -> {
            if (f.isSuccess()) {
                f.channel().close();
                done.accept(null);
            } else {
                done.accept(RelayBase.connectFailure(f.cause()));
            }
        });
    }

    /** The one handler of every check's channel: nothing is read or written. */
    @ChannelHandler.Sharable
    private static final class Ignore extends ChannelInboundHandlerAdapter {
    }

    /** Stops the check thread; checks in progress are abandoned. */
    @Override
    public void close() {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
    }
}
