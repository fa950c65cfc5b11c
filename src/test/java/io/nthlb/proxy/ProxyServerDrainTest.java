package io.nthlb.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.SingleThreadEventLoop;
import io.netty.util.concurrent.EventExecutor;
import io.nthlb.testing.Eventually;
import io.nthlb.testing.HeldLoop;
import io.nthlb.testing.LoopbackBackend;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Draining while a connection is between its accept and its registration on an event loop. */
class ProxyServerDrainTest {

    /**
     * With NIO one loop accepts and hands each connection to another loop, which registers it later: a
     * connection accepted before the listeners closed may not be open yet when drain looks. It must be drained
     * like the others, not closed with the event loops.
     */
    @Test
    void drainServesAConnectionAcceptedButNotYetRegistered() throws Exception {
        try (LoopbackBackend echo = LoopbackBackend.echo()) {
            ProxyServer server = ProxyServer.start(ProxyOptions.defaults(Transport.NIO).withThreads(2),
                    (client, local) -> Route.to(echo.address(), "TEST:1"), RelayObserver.NONE);
            CountDownLatch release = new CountDownLatch(1);
            CompletableFuture<Integer> drained = null;
            try {
                InetSocketAddress vip = server.listen(
                        List.of(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))).get(0);
                // Netty's chooser gives the listener the first loop and the first connection the second: hold
                // the second up, so the connection waits there, accepted and not registered.
                List<EventExecutor> loops = new ArrayList<>();
                server.eventLoops().forEach(loops::add);
                SingleThreadEventLoop child = (SingleThreadEventLoop) loops.get(1);
                HeldLoop.holdUntil(child, release);

                try (Socket client = new Socket(vip.getAddress(), vip.getPort())) {
                    client.setSoTimeout(10_000);
                    Eventually.until(() -> child.pendingTasks() >= 1, "the accepted connection queued on its loop");
                    drained = CompletableFuture.supplyAsync(() -> server.drain(Duration.ofSeconds(30)));
                    // Drain has closed the listeners and is waiting (on the held loop), or has already gone on
                    // to stop the loops without the connection.
                    Eventually.until(() -> server.listeners().addresses().isEmpty()
                            && (child.pendingTasks() >= 2 || child.isShuttingDown()), "drain to get going");
                    release.countDown();

                    client.getOutputStream().write("ping".getBytes(StandardCharsets.US_ASCII));
                    client.shutdownOutput();
                    assertThat(readAll(client)).isEqualTo("ping");
                    assertThat(drained.get(30, TimeUnit.SECONDS)).isZero();
                }
            } finally {
                release.countDown();
                if (drained == null) {
                    server.close();
                }
            }
        }
    }

    private static String readAll(Socket socket) {
        try {
            return new String(socket.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
        } catch (IOException e) {
            return e.toString();
        }
    }
}
