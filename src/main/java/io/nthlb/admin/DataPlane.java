package io.nthlb.admin;

import io.nthlb.nat.NatTable;
import io.nthlb.proxy.ListenerSet;
import io.nthlb.proxy.ProxyServer;
import java.util.function.Consumer;
import java.util.function.Supplier;

/** What the admin side needs of the running data plane: its table, a way to replace it, its listeners. */
public interface DataPlane {

    /** The table new connections are decided by now. */
    NatTable table();

    /** Makes {@code next} the table for new connections; open connections keep their backends. */
    void install(NatTable next);

    ListenerSet listeners();

    /** Client connections open now. */
    int openConnections();

    /**
     * A proxy server whose table is read with {@code table} and replaced with {@code install} (which must
     * also give the server a router for it).
     */
    static DataPlane of(ProxyServer server, Supplier<NatTable> table, Consumer<NatTable> install) {
        return new DataPlane() {
            @Override
            public NatTable table() {
                return table.get();
            }

            @Override
            public void install(NatTable next) {
                install.accept(next);
            }

            @Override
            public ListenerSet listeners() {
                return server.listeners();
            }

            @Override
            public int openConnections() {
                return server.openConnections();
            }
        };
    }
}
