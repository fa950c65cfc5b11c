package io.nthlb.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The JDK keeps the descriptor of a closed NIO channel open until its selector selects again; a task given to
 * {@link NioDeferredClose#afterClose} runs only once it is closed, and without waiting for more I/O on the loop.
 */
class NioDeferredCloseTest {

    private static final int CHANNELS = 40;

    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioDeferredClose.factory());
    private final List<Socket> accepted = new ArrayList<>();
    private ServerSocket server;

    @AfterEach
    void stop() throws IOException {
        group.shutdownGracefully(0, 0, TimeUnit.SECONDS).awaitUninterruptibly();
        for (Socket s : accepted) {
            s.close();
        }
        if (server != null) {
            server.close();
        }
    }

    @Test
    void aTaskAfterABurstOfClosesRunsOnceTheirDescriptorsAreClosedAndWithoutFurtherIo() throws Exception {
        server = new ServerSocket(0, CHANNELS, InetAddress.getLoopbackAddress());
        List<Channel> channels = new ArrayList<>();
        for (int i = 0; i < CHANNELS; i++) {
            channels.add(new Bootstrap().group(group).channel(NioSocketChannel.class)
                    .handler(new ChannelInboundHandlerAdapter())
                    .connect(server.getLocalSocketAddress()).sync().channel());
            accepted.add(server.accept());
        }
        long open = openDescriptors();

        CompletableFuture<Long> whenRun = new CompletableFuture<>();
        CompletableFuture<Long> waitedNanos = new CompletableFuture<>();
        AtomicInteger closed = new AtomicInteger();
        long[] lastClosedAt = new long[1];
        for (Channel c : channels) {
            // As ListenerSet gives a connection's slot back: from the close future's listener, on the channel's loop.
            c.closeFuture().addListener(f -> {
                lastClosedAt[0] = System.nanoTime();
                if (closed.incrementAndGet() == CHANNELS) {
                    NioDeferredClose.afterClose(c, () -> {
                        waitedNanos.complete(System.nanoTime() - lastClosedAt[0]);
                        whenRun.complete(openDescriptors());
                    });
                }
            });
        }
        // The peers close: each channel reads its end of input and closes, during the loop's I/O.
        for (Socket s : accepted) {
            s.close();
        }

        long atTask = whenRun.get(10, TimeUnit.SECONDS);
        // Nothing else happens on the loop: the task must not wait for the select's timeout (a second, when the
        // loop has nothing scheduled) or for another event.
        assertThat(TimeUnit.NANOSECONDS.toMillis(waitedNanos.get())).as("ms from the closes to the task")
                .isLessThan(800);
        // Both ends of every connection are in this process: the peers' closed at once, the channels' must be too.
        assertThat(atTask).as("descriptors open when the task ran (%d before the closes)", open)
                .isLessThanOrEqualTo(open - 2 * CHANNELS + CHANNELS / 4);
    }

    @Test
    void onAThreadThatIsNoNioEventLoopTheTaskRunsAtOnce() {
        boolean[] ran = {false};
        Channel channel = new NioSocketChannel();
        NioDeferredClose.afterClose(channel, () -> ran[0] = true);
        channel.unsafe().closeForcibly();
        assertThat(ran[0]).isTrue();
    }

    private static long openDescriptors() {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
