// Newline-delimited streams (a watch's JSON events, a process's log) read line by line.

/** Calls `handle` with each non-blank line of `stream`, trimmed, as the lines arrive. */
export function onLines(stream: NodeJS.ReadableStream, handle: (line: string) => void): void {
  let buffer = "";
  stream.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    let newline = buffer.indexOf("\n");
    while (newline >= 0) {
      const line = buffer.slice(0, newline).trim();
      buffer = buffer.slice(newline + 1);
      if (line !== "") handle(line);
      newline = buffer.indexOf("\n");
    }
  });
}
