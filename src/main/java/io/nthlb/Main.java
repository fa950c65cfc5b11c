package io.nthlb;

import io.nthlb.cli.CheckCommand;
import io.nthlb.cli.DemoCommand;
import io.nthlb.cli.ListCommand;
import io.nthlb.cli.ReloadCommand;
import io.nthlb.cli.RunCommand;
import io.nthlb.cli.SaveCommand;
import io.nthlb.cli.SimulateCommand;
import java.util.List;
import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** nthlb's command line: one picocli subcommand per thing a user does. */
@Command(name = "nthlb", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "A userspace L4 load balancer that runs iptables nat rules the way the kernel does.")
public final class Main implements Runnable {

    /** The subcommands, in the order --help lists them. */
    private static final List<Class<?>> SUBCOMMANDS = List.of(RunCommand.class, DemoCommand.class,
            CheckCommand.class, SimulateCommand.class, ListCommand.class, SaveCommand.class, ReloadCommand.class,
            AutoComplete.GenerateCompletion.class);

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(commandLineFor(args).execute(args));
    }

    /** The configured command line, shared by {@link #main}, the tests and the build's man page and completion. */
    public static CommandLine commandLine() {
        return withSubcommands(SUBCOMMANDS);
    }

    /**
     * The command line for these arguments: when the first one names a subcommand, only that subcommand is
     * built, since picocli builds each by reflection and all of them take a good part of start-up; the version
     * alone needs none; anything else (--help, a misspelt or abbreviated name) gets the whole command line.
     */
    static CommandLine commandLineFor(String[] args) {
        if (args.length == 1 && (args[0].equals("-V") || args[0].equals("--version"))) {
            return withSubcommands(List.of());
        }
        if (args.length > 0) {
            for (Class<?> sub : SUBCOMMANDS) {
                if (sub.getAnnotation(Command.class).name().equals(args[0])) {
                    return withSubcommands(List.of(sub));
                }
            }
        }
        return commandLine();
    }

    private static CommandLine withSubcommands(List<Class<?>> subcommands) {
        CommandLine cli = new CommandLine(new Main());
        // Subcommands do not inherit the top command's version provider: without this, `run -V` prints nothing.
        Version version = new Version();
        for (Class<?> sub : subcommands) {
            CommandLine added = new CommandLine(sub);
            added.getCommandSpec().versionProvider(version);
            cli.addSubcommand(added);
        }
        CommandLine completion = cli.getSubcommands().get("generate-completion");
        if (completion != null) {
            // picocli hides its completion command by default; nthlb documents it, so --help lists it.
            completion.getCommandSpec().usageMessage().hidden(false);
        }
        return cli;
    }

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "Missing required subcommand");
    }

    /** Reads the version from the jar's manifest, so it is written in one place (the pom). */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"nthlb " + (v == null ? "(development build)" : v)};
        }
    }
}
