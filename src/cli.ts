/** The `quill` command. Each subcommand lives in its own module and is loaded on demand. */
export async function main(argv: string[]): Promise<number> {
  const [command = "--help"] = argv;
  console.error(`quill: unknown command "${command}"`);
  return 2;
}
