// libmime ships no type declarations; these cover the calls abusegate makes.
declare module 'libmime' {
  export class Libmime {
    parseHeaderValue(value: string): { value: string; params: Record<string, string> };
    decodeWords(value: string): string;
  }
  const libmime: Libmime;
  export default libmime;
}
