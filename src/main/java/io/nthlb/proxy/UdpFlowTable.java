package io.nthlb.proxy;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.channel.socket.DatagramPacket;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The flows of one UDP listening socket, by client address and port, on that socket's event loop: the handler
 * of the socket, which sends each datagram to its flow or starts a flow for it.
 */
final class UdpFlowTable extends ChannelInboundHandlerAdapter {

    private static final Logger log = LoggerFactory.getLogger(UdpFlowTable.class);

    private final UdpProxy proxy;
    private final EventLoop loop;
    /** The address asked for, a wildcard for a wildcard listener (port 0 until bound). */
    private final InetSocketAddress asked;
    private final Map<InetSocketAddress, UdpFlow> flows = new HashMap<>();
    /** Flows written to in this read batch, flushed once when it completes. */
    private final List<UdpFlow> written = new ArrayList<>();
    private Channel channel;
    private InetSocketAddress bound;

    UdpFlowTable(UdpProxy proxy, EventLoop loop, InetSocketAddress asked) {
        this.proxy = proxy;
        this.loop = loop;
        this.asked = asked;
    }

    EventLoop loop() {
        return loop;
    }

    Channel channel() {
        return channel;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        channel = ctx.channel();
        bound = (InetSocketAddress) channel.localAddress();
        ctx.fireChannelActive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        DatagramPacket packet = (DatagramPacket) msg;
        InetSocketAddress client = packet.sender();
        UdpFlow flow = flows.get(client);
        if (flow == null) {
            if (!proxy.reserveFlow()) {
                packet.release();
                return;
            }
            flow = new UdpFlow(proxy, this, client, local(packet), bound);
            flows.put(client, flow);
            flow.open();
        }
        if (flow.fromClient(packet.content())) {
            written.add(flow);
        }
    }

    /**
     * The address the client wrote to: the bound one, or for a wildcard listener the datagram's destination where
     * the transport reports it (epoll), else the wildcard.
     */
    private InetSocketAddress local(DatagramPacket packet) {
        if (!asked.getAddress().isAnyLocalAddress()) {
            return bound;
        }
        InetSocketAddress recipient = packet.recipient();
        return recipient != null && !recipient.getAddress().isAnyLocalAddress() ? recipient : bound;
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        for (int i = 0; i < written.size(); i++) {
            written.get(i).flushToBackend();
        }
        written.clear();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // A listener socket can report an ICMP error for a reply it sent; the flow's own timer deals with a client
        // that went away.
        if (log.isDebugEnabled()) {
            log.debug("udp listener {}: {}", Addresses.format(bound), cause.toString());
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        endAll(Ending.STOPPED);
        ctx.fireChannelInactive();
    }

    /** Ends every flow of this listener. */
    void endAll(Ending how) {
        for (UdpFlow flow : List.copyOf(flows.values())) {
            flow.end(how);
        }
    }

    /** Forgets an ended flow: the next datagram from its client starts a new one. */
    void remove(UdpFlow flow) {
        flows.remove(flow.client(), flow);
    }
}
