package io.nthlb.proxy;

import io.netty.channel.ChannelException;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.LinuxSocket;
import java.io.IOException;

/** Asks the kernel, by trying on a throw-away socket, whether this process may make transparent sockets. */
public final class TransparentProbe {

    private static final int SOL_IP = 0;
    private static final int IP_TRANSPARENT = 19;

    private TransparentProbe() {
    }

    /**
     * Why {@code --transparent} cannot work here, or {@code null} when it can: setting IP_TRANSPARENT needs
     * CAP_NET_ADMIN (or CAP_NET_RAW), and without it every backend connection would fail.
     */
    public static String missingCapability() {
        if (!Epoll.isAvailable()) {
            return null; // no native socket to try with; a connection that cannot be made says so in the log
        }
        LinuxSocket socket = LinuxSocket.newSocketStream(false);
        try {
            socket.setIntOpt(SOL_IP, IP_TRANSPARENT, 1);
            return null;
        } catch (IOException | ChannelException e) {
            // Netty reports a failed setsockopt as a ChannelException wrapping the errno's message.
            return "--transparent needs the CAP_NET_ADMIN capability, to set IP_TRANSPARENT on backend sockets ("
                    + e.getMessage() + "); run nthlb as root or grant it (systemd: AmbientCapabilities=CAP_NET_ADMIN)";
        } finally {
            try {
                socket.close();
            } catch (IOException e) {
                // A socket never connected: nothing to lose.
            }
        }
    }
}
