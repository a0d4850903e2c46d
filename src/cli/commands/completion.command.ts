import { Argument, type Command } from 'commander';

/** Every command path of the program (`''`, `keys`, `keys rotate`…) with the words that may follow it. */
function completionTable(program: Command): Map<string, string[]> {
  const table = new Map<string, string[]>();
  const walk = (command: Command, path: string): void => {
    const subcommands = command.commands.map((c) => c.name());
    const options = command.options.flatMap((o) => [o.long, o.short]).filter((f): f is string => f !== undefined);
    table.set(path, [...subcommands, ...options, '--help']);
    for (const sub of command.commands) walk(sub, path === '' ? sub.name() : `${path} ${sub.name()}`);
  };
  walk(program, '');
  return table;
}

/** A bash word list is single-quoted; command and option names never hold a quote, but be sure. */
function quoted(words: readonly string[]): string {
  return `'${words.join(' ').replace(/'/g, '')}'`;
}

/**
 * A bash completion function: finds the longest known command path among the words typed so
 * far (options skipped), then offers the subcommands and options of that command.
 */
export function bashCompletion(program: Command): string {
  const table = completionTable(program);
  const cases = [...table.entries()].map(([path, words]) => `    ${JSON.stringify(path)}) words=${quoted(words)} ;;`).join('\n');
  const known = [...table.keys()].filter((k) => k !== '').map((k) => JSON.stringify(k)).join(' ');
  return `# sealpost completion for bash: eval "$(sealpost completion bash)"
_sealpost_completion() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" candidate w i words known
  known=(${known})
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    [[ "$w" == -* ]] && continue
    candidate="\${path:+$path }$w"
    for k in "\${known[@]}"; do
      if [[ "$k" == "$candidate" ]]; then path="$candidate"; break; fi
    done
  done
  case "$path" in
${cases}
    *) words="" ;;
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _sealpost_completion sealpost
`;
}

/** zsh runs the bash function through its bashcompinit layer: one table, two shells. */
export function zshCompletion(program: Command): string {
  return `# sealpost completion for zsh: eval "$(sealpost completion zsh)"
autoload -U +X compinit && compinit
autoload -U +X bashcompinit && bashcompinit
${bashCompletion(program).split('\n').slice(1).join('\n')}`;
}

export function registerCompletion(program: Command): void {
  program
    .command('completion')
    .description('print a shell completion script: eval "$(sealpost completion bash)" in ~/.bashrc, or zsh in ~/.zshrc')
    .addArgument(new Argument('<shell>', 'the shell').choices(['bash', 'zsh']))
    .action((shell: 'bash' | 'zsh') => {
      process.stdout.write(shell === 'bash' ? bashCompletion(program) : zshCompletion(program));
    });
}
