"""Command line: ``python -m contrastlearn demo [--epochs N]``."""

import argparse
import time


def main(argv=None):
    """Run the command line interface.

    Parameters
    ----------
    argv : list of str or None
        Arguments (default: ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(prog="contrastlearn", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="pretrain CLR on sklearn's digits and compare "
                                            "embeddings with raw pixels and PCA")
    demo.add_argument("--epochs", type=int, default=30, help="CLR epochs (default: 30)")
    args = parser.parse_args(argv)

    from .demo import run_demo

    start = time.perf_counter()
    print(f"contrastlearn demo: CLR on sklearn digits (1797 images, 8x8), {args.epochs} epochs")
    table = run_demo(max_epochs=args.epochs)
    print()
    print(table.to_string(formatters={"fit s": "{:.1f}".format}, float_format="{:.3f}".format))
    print(f"\ndemo finished in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
