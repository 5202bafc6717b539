/* Placeholder until system/main.c lands. */
int main(void)
{
    return 0;
}
