/**
 * What a Lambda handler can call on AWS, read from its code: the AWS SDK v3 commands and the
 * `KILN_*` environment variables reachable from its entry file.
 *
 * Reachability is followed through Kiln's own code with the TypeScript checker, one declaration
 * at a time rather than one file at a time: a handler that calls `fleet.describe()` reaches
 * `Ec2Fleet.describe` (the method of every reached class implementing the `Fleet` port) and not
 * `Ec2Fleet.launchBuilder`, although both live in the same class. A bundle's module graph
 * cannot tell those apart; this can, so a role can be held to what its handler really calls.
 * Code in node_modules is not followed: an SDK command is recorded where Kiln's code names it.
 */
import path from "node:path";
import ts from "typescript";

export interface HandlerCalls {
  /** `package:Operation`, e.g. `client-ec2:RunInstances`, `lib-dynamodb:Put`. */
  commands: Set<string>;
  /** The IAM actions those commands need. */
  actions: Set<string>;
  /** `KILN_*` variables the reachable code reads. */
  variables: Set<string>;
}

const iamPrefix: Record<string, string> = {
  "client-ec2": "ec2",
  "client-auto-scaling": "autoscaling",
  "client-dynamodb": "dynamodb",
  "client-s3": "s3",
  "client-sfn": "states",
  "client-sesv2": "ses",
  "client-lambda": "lambda",
};

// The document client's commands wrap the low-level operations IAM knows.
const documentClientOperations: Record<string, string> = {
  Get: "GetItem",
  Put: "PutItem",
  Update: "UpdateItem",
  Delete: "DeleteItem",
  Query: "Query",
  Scan: "Scan",
  BatchGet: "BatchGetItem",
  BatchWrite: "BatchWriteItem",
  TransactGet: "TransactGetItems",
  TransactWrite: "TransactWriteItems",
};

// S3 operations authorised by an action of another name.
const s3Actions: Record<string, string> = {
  HeadObject: "s3:GetObject",
  ListObjectsV2: "s3:ListBucket",
  ListObjects: "s3:ListBucket",
  HeadBucket: "s3:ListBucket",
};

/** The IAM action an SDK command needs. */
export function iamActionOf(command: string): string {
  const [pkg = "", operation = ""] = command.split(":");
  if (pkg === "lib-dynamodb") {
    const low = documentClientOperations[operation];
    if (!low) throw new Error(`no IAM action known for the document client's ${operation}Command`);
    return `dynamodb:${low}`;
  }
  if (pkg === "client-s3" && s3Actions[operation]) return s3Actions[operation];
  const prefix = iamPrefix[pkg];
  if (!prefix)
    throw new Error(
      `no IAM prefix known for @aws-sdk/${pkg} (command ${operation}): add it to handler-calls.ts`,
    );
  return `${prefix}:${operation}`;
}

const sdkDeclaration = /node_modules\/@aws-sdk\/((?:client-[a-z0-9-]+)|lib-dynamodb)\//;
// The aggregated clients (`new S3({}).headObject(…)`, `DynamoDBDocument.put(…)`) declare one
// method per operation in the package's top-level declaration file.
const aggregatedClientFile = /\/dist-types\/[A-Za-z0-9]+\.d\.ts$/;
const clientPlumbing = new Set(["send", "destroy", "config", "middlewareStack", "from"]);

function loadProgram(root: string, entries: string[]): ts.Program {
  const configPath = path.join(root, "tsconfig.json");
  const config = ts.readConfigFile(configPath, ts.sys.readFile);
  if (config.error) throw new Error(ts.flattenDiagnosticMessageText(config.error.messageText, "\n"));
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, root);
  return ts.createProgram({
    rootNames: entries.map((entry) => path.join(root, entry)),
    options: { ...parsed.options, noEmit: true },
  });
}

/** The AWS calls and variables reachable from each handler entry (name → entry file). */
export function analyzeHandlers(root: string, entries: Record<string, string>): Record<string, HandlerCalls> {
  const program = loadProgram(root, Object.values(entries));
  const checker = program.getTypeChecker();
  const isKilnSource = (file: ts.SourceFile) =>
    !file.isDeclarationFile && !file.fileName.includes("/node_modules/");

  // Every class of Kiln's code, with the interfaces it declares it implements.
  const classes: Array<{ node: ts.ClassLikeDeclaration; implements: Set<ts.Symbol> }> = [];
  for (const file of program.getSourceFiles().filter(isKilnSource)) {
    const visit = (node: ts.Node) => {
      if (ts.isClassDeclaration(node) || ts.isClassExpression(node)) {
        const implemented = new Set<ts.Symbol>();
        for (const clause of node.heritageClauses ?? []) {
          for (const type of clause.types) {
            const symbol = resolve(checker.getSymbolAtLocation(type.expression));
            if (symbol) implemented.add(symbol);
          }
        }
        classes.push({ node, implements: implemented });
      }
      ts.forEachChild(node, visit);
    };
    visit(file);
  }

  function resolve(symbol: ts.Symbol | undefined): ts.Symbol | undefined {
    if (symbol && symbol.flags & ts.SymbolFlags.Alias) return checker.getAliasedSymbol(symbol);
    return symbol;
  }

  const result: Record<string, HandlerCalls> = {};
  for (const [name, entry] of Object.entries(entries)) {
    const source = program.getSourceFile(path.join(root, entry));
    if (!source) throw new Error(`${name}: entry ${entry} is not part of the program`);
    const calls: HandlerCalls = { commands: new Set(), actions: new Set(), variables: new Set() };
    const scanned = new Set<ts.Node>();
    const reachedClasses = new Set<ts.ClassLikeDeclaration>();
    // Port members called somewhere: [interface, member name].
    const calledPortMembers: Array<[ts.Symbol, string]> = [];
    const queue: ts.Node[] = [source];

    const enqueue = (node: ts.Node) => {
      if (!scanned.has(node)) queue.push(node);
    };

    const memberOf = (cls: ts.ClassLikeDeclaration, member: string) =>
      cls.members.filter((m) => m.name && ts.isIdentifier(m.name) && m.name.text === member);

    const reachClass = (cls: ts.ClassLikeDeclaration) => {
      if (reachedClasses.has(cls)) return;
      reachedClasses.add(cls);
      // Constructing a class runs its constructor and field initialisers, not its methods.
      for (const member of cls.members) {
        if (ts.isConstructorDeclaration(member) || ts.isClassStaticBlockDeclaration(member)) enqueue(member);
        if (ts.isPropertyDeclaration(member) && member.initializer) enqueue(member);
      }
      const entryOf = classes.find((c) => c.node === cls);
      for (const [port, member] of calledPortMembers) {
        if (entryOf?.implements.has(port)) for (const m of memberOf(cls, member)) enqueue(m);
      }
    };

    const reachPortMember = (port: ts.Symbol, member: string) => {
      if (calledPortMembers.some(([p, m]) => p === port && m === member)) return;
      calledPortMembers.push([port, member]);
      for (const cls of classes) {
        if (reachedClasses.has(cls.node) && cls.implements.has(port))
          for (const m of memberOf(cls.node, member)) enqueue(m);
      }
    };

    const reachSymbol = (symbol: ts.Symbol) => {
      for (const declaration of symbol.declarations ?? []) {
        const file = declaration.getSourceFile();
        const sdk = sdkDeclaration.exec(file.fileName);
        if (sdk) {
          const command = /^(\w+)Command$/.exec(symbol.name) ?? /^paginate(\w+)$/.exec(symbol.name);
          if (command?.[1]) calls.commands.add(`${sdk[1]}:${command[1]}`);
          const method = ts.isMethodSignature(declaration) || ts.isMethodDeclaration(declaration);
          if (
            method &&
            aggregatedClientFile.test(file.fileName) &&
            /^[a-z]/.test(symbol.name) &&
            !clientPlumbing.has(symbol.name)
          ) {
            calls.commands.add(`${sdk[1]}:${symbol.name.charAt(0).toUpperCase()}${symbol.name.slice(1)}`);
          }
          continue;
        }
        if (!isKilnSource(file)) continue;
        if (ts.isClassDeclaration(declaration) || ts.isClassExpression(declaration)) {
          reachClass(declaration);
        } else if (ts.isMethodSignature(declaration) || ts.isPropertySignature(declaration)) {
          const owner = declaration.parent;
          if (ts.isInterfaceDeclaration(owner)) {
            const port = resolve(checker.getSymbolAtLocation(owner.name));
            if (port) reachPortMember(port, symbol.name);
          }
        } else if (
          ts.isFunctionDeclaration(declaration) ||
          ts.isMethodDeclaration(declaration) ||
          ts.isVariableDeclaration(declaration) ||
          ts.isPropertyDeclaration(declaration) ||
          ts.isPropertyAssignment(declaration) ||
          ts.isShorthandPropertyAssignment(declaration) ||
          ts.isGetAccessorDeclaration(declaration) ||
          ts.isFunctionExpression(declaration) ||
          ts.isArrowFunction(declaration)
        ) {
          enqueue(declaration);
        }
      }
    };

    const scan = (node: ts.Node) => {
      if (ts.isStringLiteralLike(node) && /^KILN_[A-Z0-9_]+$/.test(node.text)) calls.variables.add(node.text);
      if (ts.isPropertyAccessExpression(node) && /^KILN_[A-Z0-9_]+$/.test(node.name.text))
        calls.variables.add(node.name.text);
      // Types never run: what a type annotation names is not reached by it. Imports are followed
      // where the imported name is used; nested classes and functions when they are referenced.
      if (ts.isTypeNode(node) || ts.isInterfaceDeclaration(node) || ts.isTypeAliasDeclaration(node)) return;
      if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) return;
      if (ts.isClassDeclaration(node) || ts.isClassExpression(node) || ts.isFunctionDeclaration(node)) {
        const symbol = node.name ? resolve(checker.getSymbolAtLocation(node.name)) : undefined;
        if (!symbol && ts.isClassExpression(node)) reachClass(node);
        return;
      }
      if (ts.isIdentifier(node) || ts.isPrivateIdentifier(node)) {
        const symbol = resolve(checker.getSymbolAtLocation(node));
        if (symbol) reachSymbol(symbol);
      }
      ts.forEachChild(node, scan);
    };

    for (let node = queue.shift(); node; node = queue.shift()) {
      if (scanned.has(node)) continue;
      scanned.add(node);
      // A class's methods are scanned one by one as they are reached, never all at once.
      if (ts.isClassDeclaration(node) || ts.isClassExpression(node)) {
        reachClass(node);
        continue;
      }
      ts.forEachChild(node, scan);
    }
    for (const command of calls.commands) calls.actions.add(iamActionOf(command));
    result[name] = calls;
  }
  return result;
}
