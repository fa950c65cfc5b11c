package io.nthlb.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDomainDatagramChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.unix.DomainDatagramPacket;
import io.netty.channel.unix.DomainSocketAddress;
import io.nthlb.Main;
import io.nthlb.testing.FreePort;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code nthlb run} under a fake systemd: a Unix datagram socket of the test's own as {@code NOTIFY_SOCKET},
 * reading what {@code sd_notify} would have told the service manager.
 */
class SystemdNotifyTest {

    @TempDir
    Path dir;

    private EventLoopGroup loop;
    private Channel systemd;
    private final BlockingQueue<String> received = new LinkedBlockingQueue<>();

    @BeforeEach
    void bindNotifySocket() throws Exception {
        assumeTrue(Epoll.isAvailable(), "Unix datagram sockets need Netty's native transport");
        loop = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        systemd = new Bootstrap().group(loop).channel(EpollDomainDatagramChannel.class)
                .handler(new SimpleChannelInboundHandler<DomainDatagramPacket>() {
                    @Override
                    protected void channelRead0(ChannelHandlerContext ctx, DomainDatagramPacket packet) {
                        received.add(packet.content().toString(StandardCharsets.UTF_8));
                    }
                })
                .bind(new DomainSocketAddress(dir.resolve("notify").toString())).sync().channel();
    }

    @AfterEach
    void close() throws Exception {
        if (loop != null) {
            systemd.close().sync();
            loop.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    private String next() throws InterruptedException {
        String message = received.poll(30, TimeUnit.SECONDS);
        assertThat(message).as("a notification within 30 s").isNotNull();
        return message;
    }

    @Test
    void readyOnceListeningThenReloadingAndReadyAroundAReloadThenStopping() throws Exception {
        int vip = FreePort.onLoopback();
        String admin = "127.0.0.1:" + FreePort.onLoopback();
        Path file = dir.resolve("notify.rules");
        Files.writeString(file, Demo.rules(vip, 1, 2));
        RunCommand run = new RunCommand();
        run.signals = ShutdownSignals.manual();
        run.notify = SystemdNotify.fromEnvironment(Map.of("NOTIFY_SOCKET", dir.resolve("notify").toString()));
        CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(
                () -> new CommandLine(run).execute("--threads", "1", "--admin", admin, file.toString()));

        String ready = next();
        assertThat(ready).startsWith("READY=1\n").contains("\nMAINPID=" + ProcessHandle.current().pid())
                .contains("STATUS=listening on 1 address(es)");
        // Ready means listening: a client can connect the moment systemd hears it.
        new Socket(InetAddress.getLoopbackAddress(), vip).close();

        StringWriter out = new StringWriter();
        CommandLine reload = Main.commandLine();
        reload.setOut(new PrintWriter(out, true));
        assertThat(reload.execute("reload", "--admin", admin)).isZero();
        assertThat(next()).startsWith("RELOADING=1\nMONOTONIC_USEC=");
        assertThat(next()).startsWith("READY=1\nSTATUS=reloaded " + file + ": 2 rules");

        run.signals.received("SIGTERM");
        assertThat(next()).startsWith("STOPPING=1");
        assertThat(exit.get(30, TimeUnit.SECONDS)).isZero();
        assertThat(received).isEmpty();
    }

    @Test
    void withoutNotifySocketNothingIsSent() {
        assertThat(SystemdNotify.fromEnvironment(Map.of())).isSameAs(SystemdNotify.NONE);
        assertThat(SystemdNotify.fromEnvironment(Map.of("NOTIFY_SOCKET", ""))).isSameAs(SystemdNotify.NONE);
    }
}
